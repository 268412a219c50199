"""Model families: each folder is one backbone with its renderer and exports."""
