"""Tools: subcommands that look at and convert datasets (``lrmzero gallery``, ``view``,
``validate``, ``pack``) and their cameras (``lrmzero cameras convert|check``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lrmzero import ConfigError, hookimpl
from lrmzero.components import Command


class GalleryCommand(Command):
    name = "gallery"
    help = "contact sheet and HTML page of a dataset"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("dataset", help="dataset folder or shards")
        parser.add_argument("--out", default=None, help="folder for gallery.png and index.html (default DATASET/gallery)")
        parser.add_argument("--objects", type=int, default=8, help="objects on the contact sheet")
        parser.add_argument("--views", type=int, default=4, help="views per object on the contact sheet")

    def run(self, args: argparse.Namespace) -> int:
        from lrmzero.dataset import check_output_folder
        from lrmzero.plugins.tools.gallery import contact_sheet, write_html

        out = args.out or str(Path(args.dataset) / "gallery")
        if Path(args.dataset).is_dir():  # a missing dataset is named below, before the output folder
            check_output_folder(out, "--out")
        try:
            png = contact_sheet(args.dataset, Path(out) / "gallery.png", args.objects, args.views)
            page = write_html(args.dataset, out)
        except (FileNotFoundError, ValueError) as exc:
            raise ConfigError(str(exc)) from None
        print(f"contact sheet: {png}\npage: {page}")
        return 0


class ValidateCommand(Command):
    name = "validate"
    help = "check every object of a dataset (cameras, views, depth, manifest) and list the bad ones"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("dataset", nargs="+", help="dataset folders")
        parser.add_argument("--headers-only", action="store_true",
                            help="read image headers (sizes) without decoding every pixel")
        parser.add_argument("--workers", type=int, default=None,
                            help="threads checking objects side by side (default: the cores, at most 8)")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def run(self, args: argparse.Namespace) -> int:
        from lrmzero.dataset import check_positive
        from lrmzero.dataset_check import check_and_record, check_workers

        check_positive(args.workers, "--workers")
        ok = True
        for root in args.dataset:
            report, recorded = check_and_record(root, decode=not args.headers_only,
                                                workers=args.workers or check_workers(), progress=not args.quiet)
            print("\n".join(report.lines()))
            if recorded is not None:
                print(f"recorded in {recorded}: train and eval trust it while the objects stay the same")
            ok &= report.ok
        return 0 if ok else 1


class PackCommand(Command):
    name = "pack"
    help = "write a folder dataset as webdataset-layout tar shards with an index (resumable)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("dataset", help="a folder dataset (lrmzero generate/render)")
        parser.add_argument("--out", required=True, help="folder for shard-NNNNNN.tar and index.json")
        parser.add_argument("--objects-per-shard", type=int, default=256, help="objects per tar shard (default 256)")
        parser.add_argument("--image-format", default="png", choices=["png", "jpeg"],
                            help="png: the views' bytes unchanged; jpeg: RGB JPEG + alpha PNG (faster to decode)")
        parser.add_argument("--jpeg-quality", type=int, default=95, help="with --image-format jpeg (default 95)")
        parser.add_argument("--workers", type=int, default=None,
                            help="threads writing shards side by side (default: the cores, at most 8)")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def run(self, args: argparse.Namespace) -> int:
        from lrmzero.dataset import check_output_folder, check_positive
        from lrmzero.dataset_check import check_workers
        from lrmzero.shards import pack_dataset

        check_positive(args.objects_per_shard, "--objects-per-shard")
        check_positive(args.workers, "--workers")
        if not 1 <= args.jpeg_quality <= 100:
            raise ConfigError(f"--jpeg-quality: got {args.jpeg_quality}; allowed: 1 to 100")
        if not Path(args.dataset).is_dir():
            raise ConfigError(f"DATASET: {args.dataset!r} is not a folder")
        source = Path(args.dataset).resolve()
        if Path(args.out).resolve() == source:  # its index.json would turn the folders into a shard dataset
            raise ConfigError(f"--out: {args.out!r} is the dataset itself; allowed: another folder, e.g. "
                              f"{str(source.with_name(source.name + '-shards'))!r}")
        check_output_folder(args.out, "--out")
        try:
            written, kept = pack_dataset(args.dataset, args.out, args.objects_per_shard, args.image_format,
                                         args.jpeg_quality, workers=args.workers or check_workers(),
                                         progress=not args.quiet)
        except ValueError as exc:
            raise ConfigError(f"DATASET: {exc}") from None
        print(f"{written} shards written, {kept} already there: {Path(args.out) / 'index.json'}")
        return 0


class CamerasCommand(Command):
    name = "cameras"
    help = "convert camera files (opencv, nerfstudio, colmap, openlrm, lgm) or check an object's cameras against its mesh"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, help="convert or check")
        convert = sub.add_parser("convert", help="opencv_cameras.json <-> transforms.json <-> COLMAP text model "
                                                 "<-> OpenLRM / LGM object folders")
        convert.add_argument("input", help="opencv_cameras.json, transforms.json, a COLMAP folder (cameras.txt), "
                                           "an OpenLRM folder (intrinsics.npy, pose/*.npy) or an LGM folder (pose/*.txt)")
        convert.add_argument("--to", required=True, help="opencv, nerfstudio, colmap, openlrm or lgm")
        convert.add_argument("--out", required=True,
                             help="the file (opencv, nerfstudio) or folder (colmap, openlrm, lgm) to write")
        check = sub.add_parser("check", help="project an object's mesh into its views and compare with the alpha masks")
        check.add_argument("object", help="an object folder (mesh.glb, opencv_cameras.json, views)")

    def run(self, args: argparse.Namespace) -> int:
        from lrmzero.dataset import check_output_file, check_output_folder
        from lrmzero.plugins.tools.camera_formats import (FORMATS, read_cameras, reprojection_report,
                                                          write_cameras)

        if args.action == "check":
            folder = Path(args.object)
            if not folder.is_dir():
                raise ConfigError(f"OBJECT: {args.object!r} is not a folder; allowed: an object folder "
                                  "(mesh.glb, opencv_cameras.json, views)")
            missing = [n for n in ("mesh.glb", "opencv_cameras.json") if not (folder / n).is_file()]
            if missing:
                raise ConfigError(f"OBJECT: {args.object!r} has no {' and no '.join(missing)}; allowed: an object "
                                  "folder (mesh.glb, opencv_cameras.json, views), e.g. DATASET/00000000")
            try:
                ok, lines = reprojection_report(folder)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"OBJECT: {args.object!r}: {exc}") from None
            print("\n".join(lines))
            print("cameras agree with the mesh" if ok else "some cameras disagree with the mesh")
            return 0 if ok else 1
        if args.to not in FORMATS:
            raise ConfigError(f"--to: got {args.to!r}; allowed: {', '.join(FORMATS)}")
        check_out = check_output_file if args.to in ("opencv", "nerfstudio") else check_output_folder
        check_out(args.out, f"--out (--to {args.to})")
        cameras, paths = read_cameras(args.input)
        print(f"wrote {len(paths)} cameras: {write_cameras(args.out, args.to, cameras, paths)}")
        if args.to in ("openlrm", "lgm"):
            print(f"{args.to} reads the views as {'rgba' if args.to == 'openlrm' else 'rgb'}/NNN.png beside pose/")
        return 0


class ViewCommand(Command):
    name = "view"
    help = "open a local web page (viser) showing a dataset, an object, a reconstruction, Gaussians or a mesh"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("path", help="a dataset (object folders or shards), one object folder, a "
                                         "reconstruct --out folder, a .ply of Gaussians or a mesh file")
        parser.add_argument("--host", default="127.0.0.1",
                            help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 shares it)")
        parser.add_argument("--port", type=int, default=8080, help="port (the next free one is taken if busy)")
        parser.add_argument("--max-views", type=int, default=None, help="cameras shown per object (default all)")

    def run(self, args: argparse.Namespace) -> int:
        from lrmzero.dataset import check_positive

        check_positive(args.max_views, "--max-views")
        if not 1 <= args.port <= 65535:
            raise ConfigError(f"--port: got {args.port}; allowed: 1 to 65535")
        try:
            import viser  # noqa: F401
        except ImportError:
            raise ConfigError("lrmzero view needs viser, which is not installed: pip install 'lrmzero[view]'") from None
        from lrmzero.plugins.tools.viewer import serve

        try:
            serve(args.path, args.host, args.port, args.max_views)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"PATH: {exc}") from None
        except KeyboardInterrupt:  # Ctrl-C is how a viewer ends: not an interrupted job
            print("lrmzero view: stopped")
        return 0


@hookimpl
def register_commands() -> list[type]:
    return [GalleryCommand, ViewCommand, ValidateCommand, PackCommand, CamerasCommand]
