"""Existing meshes read for `lrmzero render`: ``load`` finds and reads the files (a scene of placed
geometries, the files they name), ``materials`` makes each geometry's materials what the renderers take, and
``atlas`` joins the placed parts into one mesh with one texture atlas. See docs/real-meshes.md."""
