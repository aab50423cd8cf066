"""Pascal VOC XML, one file per image, as labelImg reads and writes it.

Coordinates are the box edges in pixels (COCO's ``x`` and ``x + w``), which is what labelImg
writes; whole pixels are written as integers and fractional ones with up to 2 decimals (labelImg
reads both). Untrusted XML is parsed with ``defusedxml``: entity declarations and external
references are refused.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Collection
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError, SubElement, TreeBuilder, indent, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from ..imageio import Listing, upright_boxes
from .common import ImageFolder, LabelSet, digit_of, fmt_px, place_box, reviewed_ids


class _LineBuilder:
    """A tree builder that remembers the line each element starts on."""

    def __init__(self) -> None:
        self.tb = TreeBuilder()
        self.lines: dict[int, int] = {}
        self.parser = None

    def start(self, tag, attrs):
        el = self.tb.start(tag, attrs)
        self.lines[id(el)] = self.parser.parser.CurrentLineNumber
        return el

    def end(self, tag):
        return self.tb.end(tag)

    def data(self, data):
        self.tb.data(data)

    def close(self):
        return self.tb.close()


class XmlProblem(Exception):
    def __init__(self, line: int, what: str) -> None:
        super().__init__(what)
        self.line, self.what = line, what


def parse_xml(data: bytes) -> tuple[Element, dict[int, int]]:
    """Parse untrusted XML; returns the root and ``{id(element): line}``. Raises :class:`XmlProblem`."""
    builder = _LineBuilder()
    parser = DefusedXMLParser(target=builder)
    builder.parser = parser
    try:
        parser.feed(data)
        root = parser.close()
    except DefusedXmlException as exc:
        line = parser.parser.CurrentLineNumber
        raise XmlProblem(line, f"unsafe XML refused ({type(exc).__name__}: {exc})") from None
    except ParseError as exc:
        raise XmlProblem(exc.position[0], f"not well-formed XML ({exc})") from None
    return root, builder.lines


def read_voc(label_dir: str | Path, images_dir: str | Path, listing: Listing | None = None) -> LabelSet:
    """Every ``<stem>.xml`` in ``label_dir`` whose image is in ``images_dir``."""
    folder = ImageFolder(images_dir, listing)
    warnings: list[str] = []
    other: Counter = Counter()
    records = []
    for img, f in folder.label_files(Path(label_dir), ".xml", warnings):
        rec = _read_one(folder, img, f, warnings, other)
        if rec is not None:
            records.append(rec)
    return LabelSet(records, warnings, Path(label_dir), "voc", other)


def _read_one(folder: ImageFolder, img: Path, f: Path, warnings: list[str], other: Counter):
    try:
        root, lines = parse_xml(f.read_bytes())
    except OSError as exc:
        warnings.append(f"{f}: cannot be read ({exc.strerror or exc}); file skipped")
        return None
    except XmlProblem as exc:
        warnings.append(f"{f}:{exc.line}: {exc.what}; file skipped")
        return None
    if root.tag != "annotation":
        warnings.append(
            f"{f}:{lines.get(id(root), 1)}: root element <{root.tag}>, not <annotation>; file skipped"
        )
        return None
    size_line = lines.get(id(root.find("size")), lines.get(id(root), 1))
    fit = folder.upright(
        img, f, _size(root, lines, f, warnings), f"{f}:{size_line}", "<size>", warnings, True
    )
    if fit is None:
        return None
    size, stored, orient = fit
    boxes, labels = [], []
    for obj in root.iter("object"):
        where = f"{f}:{lines.get(id(obj), 0)}"
        name = (obj.findtext("name") or "").strip()
        digit = digit_of(name)
        if digit is None:
            other[name] += 1
            continue
        bnd = obj.find("bndbox")
        try:
            box = tuple(float(bnd.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (AttributeError, TypeError, ValueError):
            warnings.append(f"{where}: <bndbox> lacks xmin, ymin, xmax or ymax as numbers; dropped")
            continue
        placed = place_box(box, stored if orient != 1 else size, where, warnings)
        if placed is not None:
            boxes.append(placed)
            labels.append(digit + 1)
    if orient != 1:
        boxes = upright_boxes(boxes, stored, orient)
    verified = root.get("verified", "").strip().lower() in ("yes", "true", "1")  # labelImg's "verified"
    return folder.record(img, size, boxes, labels, verified)


def _size(root: Element, lines: dict, f: Path, warnings: list[str]) -> tuple[int, int] | None:
    el = root.find("size")
    try:
        w, h = int(float(el.findtext("width"))), int(float(el.findtext("height")))
    except (AttributeError, TypeError, ValueError):
        return None  # labelImg always writes it; without it the image header tells
    if w <= 0 or h <= 0:
        warnings.append(
            f"{f}:{lines.get(id(el), 0)}: <size> {w}x{h} ignored, the image header is used; ignored"
        )
        return None
    return w, h


def voc_text(
    image_path: Path, width: int, height: int, objects: list[tuple[str, tuple]], verified: bool = False
) -> str:
    """One labelImg-style VOC file: ``objects`` are (name, (xmin, ymin, xmax, ymax)) in pixels;
    ``verified`` writes labelImg's mark of a checked image (``<annotation verified="yes">``)."""
    top = Element("annotation", {"verified": "yes"} if verified else {})
    SubElement(top, "folder").text = image_path.parent.name
    SubElement(top, "filename").text = image_path.name
    SubElement(top, "path").text = str(image_path)
    SubElement(SubElement(top, "source"), "database").text = "Unknown"
    size = SubElement(top, "size")
    SubElement(size, "width").text = str(int(width))
    SubElement(size, "height").text = str(int(height))
    SubElement(size, "depth").text = "3"
    SubElement(top, "segmented").text = "0"
    for name, (x1, y1, x2, y2) in objects:
        obj = SubElement(top, "object")
        SubElement(obj, "name").text = name
        SubElement(obj, "pose").text = "Unspecified"
        # labelImg marks a box touching the image border as truncated
        edge = int(x1) <= 1 or int(y1) <= 1 or int(x2) >= int(width) or int(y2) >= int(height)
        SubElement(obj, "truncated").text = "1" if edge else "0"
        SubElement(obj, "difficult").text = "0"
        bnd = SubElement(obj, "bndbox")
        for k, v in zip(("xmin", "ymin", "xmax", "ymax"), (x1, y1, x2, y2)):
            SubElement(bnd, k).text = fmt_px(v)
    indent(top, space="\t")
    return tostring(top, encoding="unicode") + "\n"


def voc_texts(
    coco: dict, images_dir: Path, out_dir: Path, reviewed: bool | Collection[int] = False
) -> dict[str, str]:
    """``{<stem>.xml: text}`` for every image of a COCO ground-truth dict (``reviewed`` images marked
    verified, see :func:`~trainer.formats.common.reviewed_ids`)."""
    checked = reviewed_ids(coco, reviewed)
    del out_dir  # VOC names its image by file name and absolute path, not relative to the XML
    by_image: dict[int, list] = {}
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        by_image.setdefault(a["image_id"], []).append((str(a["category_id"] - 1), (x, y, x + w, y + h)))
    out = {}
    for im in coco["images"]:
        path = Path(os.path.normpath(Path(images_dir).resolve() / im["file_name"]))
        objects = by_image.get(im["id"], [])
        out[f"{path.stem}.xml"] = voc_text(path, im["width"], im["height"], objects, im["id"] in checked)
    return out
