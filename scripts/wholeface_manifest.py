"""Write the CSV of the whole-face (generation-artefact) member's training data from ``../shared/data``.

Reals: FFHQ portraits, CelebA (``--celeba-per-identity`` photos of each identity), the two politicians and
every real training video. Fakes: StyleGAN2 faces and FLUX faces of the politicians. Groups keep an identity
on one side of the split: every FFHQ / StyleGAN2 image is its own group (one Kaggle set, no identity labels),
CelebA, the politicians and the videos keep the manifest's group. ``--val-person`` (default ``lasso``) is put
in the validation split with both his real photos and his FLUX faces, so FLUX is measured on an unseen person.
``--align-with`` takes the crop index of the blend detector's training (``data_cache/crops/index.csv``): every
real video and photo keeps the split it had there (``holdout`` → ``val``), so the two members of the default
ensemble share their held-out real identities and the ensemble can be calibrated on media neither has seen.

    python scripts/wholeface_manifest.py ../shared/data runs/wholeface.csv
    python scripts/wholeface_manifest.py ../shared/data runs/wholeface.csv --align-with data_cache/crops/index.csv
    facetrust extract runs/wholeface.csv --out data_cache/wholeface --frames 48 --workers 2
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path


def store_splits(index_csv: Path) -> dict[str, str]:
    """``relative path → "train" | "val"`` from a self-blend crop index (its ``holdout`` becomes ``val``)."""
    with open(index_csv, newline="") as handle:
        return {row["path"]: "val" if row["split"] == "holdout" else "train" for row in csv.DictReader(handle)}


def build_rows(data_root: Path, celeba_per_identity: int, val_person: str,
               aligned: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Rows ``path,label,kind,group,method,split`` of the member's data (absolute paths)."""
    aligned = aligned or {}
    rows: list[dict[str, str]] = []
    celeba_taken: dict[str, int] = defaultdict(int)
    with open(data_root / "manifest.csv", newline="") as handle:
        for record in csv.DictReader(handle):
            parts = record["path"].split("/")
            folder = "/".join(parts[:2]) if parts[1] == "videos" else "/".join(parts[:3])
            group = record["group"]
            if folder in ("real/images/ffhq", "synthetic/images/stylegan2"):
                group = f"{parts[2]}:{Path(parts[3]).stem}"
            elif folder == "real/images/celeba":
                if celeba_taken[group] >= celeba_per_identity:
                    continue
                celeba_taken[group] += 1
            elif folder not in ("real/images/politicians", "synthetic/images/flux", "real/videos"):
                continue
            split = aligned.get(record["path"], "")
            if folder in ("real/images/politicians", "synthetic/images/flux"):
                split = "val" if group == val_person else "train"
            rows.append({"path": str((data_root / record["path"]).resolve()), "label": record["label"],
                         "kind": record["kind"], "group": group, "method": record["method"], "split": split})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_root", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--celeba-per-identity", type=int, default=3)
    parser.add_argument("--val-person", default="lasso")
    parser.add_argument("--align-with", type=Path, help="crop index.csv of the blend detector's training")
    args = parser.parse_args()
    aligned = store_splits(args.align_with) if args.align_with else None
    rows = build_rows(args.data_root, args.celeba_per_identity, args.val_person, aligned)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "kind", "group", "method", "split"])
        writer.writeheader()
        writer.writerows(rows)
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[f"{row['split'] or 'unsplit'}/{row['label']}/{row['method']}/{row['kind']}"] += 1
    print(args.out, dict(sorted(counts.items())))


if __name__ == "__main__":
    main()
