"""Tools: subcommands that look at datasets (``lrmzero gallery``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lrmzero import ConfigError, hookimpl
from lrmzero.components import Command


class GalleryCommand(Command):
    name = "gallery"
    help = "contact sheet and HTML page of a dataset"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("dataset")
        parser.add_argument("--out", default=None, help="folder for gallery.png and index.html (default DATASET/gallery)")
        parser.add_argument("--objects", type=int, default=8, help="objects on the contact sheet")
        parser.add_argument("--views", type=int, default=4, help="views per object on the contact sheet")

    def run(self, args: argparse.Namespace) -> int:
        from lrmzero.plugins.tools.gallery import contact_sheet, write_html

        out = args.out or str(Path(args.dataset) / "gallery")
        try:
            png = contact_sheet(args.dataset, Path(out) / "gallery.png", args.objects, args.views)
            page = write_html(args.dataset, out)
        except (FileNotFoundError, ValueError) as exc:
            raise ConfigError(str(exc)) from None
        print(f"contact sheet: {png}\npage: {page}")
        return 0


@hookimpl
def register_commands() -> list[type]:
    return [GalleryCommand]
