#!/usr/bin/env python3
"""Which resize makes a published banner from a provider's bigger image, and what it costs in quality.

For each case (a provider tier's size -> the published 1792x1024), photographic-looking images
(photos.py) are cropped and resized by every candidate path, and each result is compared with
today's path (ImageOps.fit with Lanczos on the decoded image) by PSNR and SSIM (on luma, 11-px
Gaussian window). Timings are CPU seconds per image (process time, median of --repeat), the decode of
the provider's JPEG included where a path changes it (draft). The chosen path is the fastest whose
worst image stays within the bound (default: PSNR >= 45 dB and SSIM >= 0.995 against Lanczos), among
Pillow's paths (pyvips's rows are for comparison: it is not a dependency).

    python benchmarks/resize_quality.py             # the table in README's performance section
    python benchmarks/resize_quality.py --images 2 --repeat 3

Needs numpy for SSIM (pip install numpy); pyvips (pip install pyvips pyvips-binary) adds its rows.
"""

from __future__ import annotations

import argparse
import io
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageChops, ImageOps, ImageStat

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from photos import photo  # noqa: E402

from mkdocs_imagegen import imaging  # noqa: E402
from mkdocs_imagegen.request import Size  # noqa: E402

TARGET = Size(1792, 1024)
CASES = {  # Gemini's 16:9 tiers (Google's size table) as they reach a 1792x1024 banner
    "2K 2752x1536 (1.5x)": (2752, 1536),
    "4K 5504x3072 (3x)": (5504, 3072),
}
Path_ = Callable[[bytes, Size], Image.Image]


def crop_box(width: int, height: int, size: Size) -> tuple[float, float, float, float]:
    """The centred box of the target's aspect: what ImageOps.fit crops."""
    aspect = size.width / size.height
    if width / height > aspect:
        crop = height * aspect
        return ((width - crop) / 2, 0, (width + crop) / 2, height)
    crop = width / aspect
    return (0, (height - crop) / 2, width, (height + crop) / 2)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def lanczos(data: bytes, size: Size) -> Image.Image:
    """Today's path."""
    return ImageOps.fit(decoded(data), (size.width, size.height), method=Image.Resampling.LANCZOS)


def pillow_path(method: Image.Resampling, gap: float | None = None, draft: bool = False) -> Path_:
    def run(data: bytes, size: Size) -> Image.Image:
        image = Image.open(io.BytesIO(data))
        if draft:  # JPEG's DCT scaling: 1/2, 1/4 or 1/8 while decoding, never below the target's size
            full = image.size
            image.draft("RGB", (math.ceil(full[0] * size.height / full[1]), size.height))
        image.load()
        box = crop_box(image.size[0], image.size[1], size)
        return image.resize((size.width, size.height), method, box=box, reducing_gap=gap)
    return run


def shipped(data: bytes, size: Size) -> Image.Image:
    """What the pipeline does now: load_source told the size it is fitted to (JPEG draft at >= 2x), then
    imaging.fit (bicubic)."""
    return imaging.fit(imaging.load_source(data, fit_to=size).image, size)


def vips_path(kernel: str) -> Path_:
    def run(data: bytes, size: Size) -> Image.Image:
        import pyvips

        image = pyvips.Image.new_from_buffer(data, "", access="sequential")
        left, top, right, bottom = crop_box(image.width, image.height, size)
        image = image.crop(round(left), round(top), round(right - left), round(bottom - top))
        image = image.resize(size.width / image.width, vscale=size.height / image.height, kernel=kernel)
        return Image.frombytes("RGB", (image.width, image.height), image.write_to_memory())
    return run


def psnr(a: Image.Image, b: Image.Image) -> float:
    rms = ImageStat.Stat(ImageChops.difference(a, b)).rms
    mse = sum(value * value for value in rms) / len(rms)
    return math.inf if mse == 0 else 10 * math.log10(255 * 255 / mse)


def ssim(a: Image.Image, b: Image.Image) -> float | None:
    try:
        import numpy as np
    except ImportError:
        return None
    x = np.asarray(a.convert("L"), dtype=np.float64)
    y = np.asarray(b.convert("L"), dtype=np.float64)
    taps = np.exp(-0.5 * (np.arange(11) - 5) ** 2 / 1.5**2)
    taps /= taps.sum()

    def blur(z: np.ndarray) -> np.ndarray:
        z = np.apply_along_axis(lambda row: np.convolve(row, taps, mode="valid"), 1, z)
        return np.apply_along_axis(lambda col: np.convolve(col, taps, mode="valid"), 0, z)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    value = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(value.mean())


def cpu(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
    return statistics.median(times)


@dataclass
class Row:
    case: str
    path: str
    seconds: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)


def paths() -> dict[str, Path_]:
    found: dict[str, Path_] = {
        "lanczos (before)": lanczos,
        "lanczos, reducing_gap 2": pillow_path(Image.Resampling.LANCZOS, gap=2.0),
        "lanczos, JPEG draft": pillow_path(Image.Resampling.LANCZOS, draft=True),
        "bicubic": pillow_path(Image.Resampling.BICUBIC),
        "bicubic, reducing_gap 2": pillow_path(Image.Resampling.BICUBIC, gap=2.0),
        "bicubic, JPEG draft": pillow_path(Image.Resampling.BICUBIC, draft=True),
        "bilinear": pillow_path(Image.Resampling.BILINEAR),
        "imaging.fit (shipped)": shipped,
    }
    try:
        import pyvips  # noqa: F401
    except (ImportError, OSError):
        return found
    found |= {"pyvips lanczos3": vips_path("lanczos3"), "pyvips cubic": vips_path("cubic")}
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=3, help="photographic images per case")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each path per image (median)")
    parser.add_argument("--min-psnr", type=float, default=45.0, help="the bound: dB against Lanczos")
    parser.add_argument("--min-ssim", type=float, default=0.995, help="the bound: SSIM against Lanczos")
    args = parser.parse_args(argv)
    candidates = paths()
    rows: dict[tuple[str, str], Row] = {}
    for case, (width, height) in CASES.items():
        for seed in range(args.images):
            buffer = io.BytesIO()
            photo(width, height, seed).save(buffer, "JPEG", quality=90)  # as Gemini answers
            data = buffer.getvalue()
            reference = lanczos(data, TARGET)
            for name, run in candidates.items():
                row = rows.setdefault((case, name), Row(case, name))
                result = run(data, TARGET)
                assert result.size == (TARGET.width, TARGET.height), (name, result.size)
                row.seconds.append(cpu(lambda run=run, data=data: run(data, TARGET), args.repeat))
                row.psnr.append(psnr(reference, result))
                value = ssim(reference, result)
                if value is not None:
                    row.ssim.append(value)
    print(f"decode + crop + resize to {TARGET} from a JPEG, CPU s per image (median of {args.repeat}); "
          f"worst of {args.images} photographic images against Lanczos; bound PSNR >= {args.min_psnr:g} dB "
          f"and SSIM >= {args.min_ssim:g}\n")
    print(f"{'case':<22} {'path':<26} {'CPU s':>7} {'PSNR dB':>8} {'SSIM':>7}  within bound")
    chosen: dict[str, Row] = {}
    for row in rows.values():
        worst_psnr = min(row.psnr)
        worst_ssim = min(row.ssim) if row.ssim else None
        ok = worst_psnr >= args.min_psnr and (worst_ssim is None or worst_ssim >= args.min_ssim)
        shown_psnr = "same" if math.isinf(worst_psnr) else f"{worst_psnr:.1f}"
        shown_ssim = "-" if worst_ssim is None else f"{worst_ssim:.4f}"
        print(f"{row.case:<22} {row.path:<26} {statistics.median(row.seconds):>7.4f} {shown_psnr:>8} "
              f"{shown_ssim:>7}  {'yes' if ok else 'no'}")
        if ok and not row.path.startswith(("pyvips", "imaging")):
            best = chosen.get(row.case)
            if best is None or statistics.median(row.seconds) < statistics.median(best.seconds):
                chosen[row.case] = row
    print()
    for case, row in chosen.items():
        print(f"fastest Pillow path within the bound, {case}: {row.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
