"""Fit the default ensemble (blend member + whole-face member [+ temporal member]) on media no member trained on.

    python scripts/fit_default_ensemble.py --blend src/facetrust/weights/sbi_effnet_lite0.json \\
        --whole-face runs/wholeface_lite0/wholeface_lite0.json --store data_cache/crops \\
        --extracted data_cache/wholeface --out runs/default_ensemble

The held-out media: the blend detector's held-out real videos (its crop store's ``holdout`` split, which the
whole-face member's manifest also holds out: ``scripts/wholeface_manifest.py --align-with``), each real and
self-blended, and the ``val`` photos of the whole-face member's extract folder (unseen FFHQ / CelebA faces,
the held-out politician and his FLUX faces, unseen StyleGAN2 faces; caution: the blend detector trained on
every FFHQ and politician photo, so those reals are unseen by the whole-face member only). Writes ``OUT/<name>.json`` (members
referenced by path) and ``OUT/<name>.fit.json`` (in-sample and out-of-fold numbers, per item).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

from facetrust.models import create_detector, resolve_detector
from facetrust.models.ensemble import EnsembleSpec, read_ensemble, save_ensemble
from facetrust.training.card import render_ensemble_card
from facetrust.training.ensemble_fit import fit_ensemble, load_held_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blend", required=True, help="blend member: detector name or spec .json")
    parser.add_argument("--whole-face", required=True, help="whole-face member: detector name or spec .json")
    parser.add_argument("--store", type=Path, required=True, help="the blend member's crop store")
    parser.add_argument("--extracted", type=Path, nargs="+", required=True, help="extract folders (val images)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--name", default="default_ensemble")
    parser.add_argument("--frames-per-video", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", choices=("max", "stacking"), default="max")
    parser.add_argument("--temporal", default=None,
                        help="optional temporal (clip) member: detector name or spec .json; adds the held-out videos "
                             "animated as stills, on which it is recalibrated")
    parser.add_argument("--lower-face", default=None,
                        help="optional lower-face (mouth) member: detector name or spec .json; adds the held-out "
                             "videos blended through a jaw/mouth mask, on which it is recalibrated")
    parser.add_argument("--keep-rules", action="store_true",
                        help="keep the frame and track rules of --keep-calibration's ensemble instead of fitting them")
    parser.add_argument("--extra-fakes", type=Path, nargs="*", default=[],
                        help="more extract folders whose val fakes the whole-face member is recalibrated on "
                             "(e.g. auto-encoder reconstructions)")
    parser.add_argument("--keep-calibration", type=Path, default=None,
                        help="an ensemble spec whose members' calibrations (scale, offset) are kept, by member "
                             "name, instead of refitted: e.g. the shipped whole-face member's, fitted on a "
                             "held-out set that a re-sampled extract no longer reproduces")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.keep_rules and not args.keep_calibration:
        parser.error("--keep-rules needs --keep-calibration (the ensemble whose rules are kept)")
    names = ([args.blend, args.whole_face] + ([args.temporal] if args.temporal else [])
             + ([args.lower_face] if args.lower_face else []))
    members = [create_detector(m, device="cpu") for m in names]
    items = load_held_out(args.store, args.extracted, fakes=args.extra_fakes, frames_per_video=args.frames_per_video,
                          seed=args.seed, animated=bool(args.temporal), lower_face=bool(args.lower_face))
    # the blend member answers for self-blended faces, the temporal member for animated stills, the whole-face
    # member for every other (whole-face) fake
    blend_fakes = {"self-blended video"}
    temporal_fakes = {"animated still video", "animated photo"}
    lower_face_fakes = {"lower-face self-blended video"}
    whole_face_fakes = ({item.source for item in items if item.label == 1} - blend_fakes - temporal_fakes
                        - lower_face_fakes)
    member_fakes = ([blend_fakes, whole_face_fakes] + ([temporal_fakes] if args.temporal else [])
                    + ([lower_face_fakes] if args.lower_face else []))
    roles = ("blend", "whole-face") + (("temporal",) if args.temporal else ()) + (("lower-face",) if args.lower_face else ())
    args.out.mkdir(parents=True, exist_ok=True)
    stored = tuple(os.path.relpath(Path(m).resolve(), args.out.resolve()) if m.endswith(".json") else m
                   for m in names)
    description = ("A self-blend detector (blending boundaries of face swaps) and a whole-face detector (GAN / "
                   "diffusion / up-sampling artefacts)"
                   + (", and a temporal detector (faces that move like a bent still: one-shot talking heads)"
                      if args.temporal else "")
                   + (", and a lower-face detector (the mouth and jaw, magnified: lip-sync)" if args.lower_face else "")
                   + ", each recalibrated on its own kind of held-out fakes; the most alarmed one decides."
                   + (" The temporal member abstains on photos and tracks shorter than its clip." if args.temporal
                      else ""))
    spec = EnsembleSpec(args.name, stored, roles=roles, description=description)
    fixed: dict[int, tuple[float, float]] = {}
    if args.keep_calibration:
        kept = json.loads(args.keep_calibration.read_text(encoding="utf-8"))["ensemble"]
        kept_names = [Path(m).stem if m.endswith(".json") else m for m in kept["members"]]
        for index, member in enumerate(members):
            if member.spec.name in kept_names:
                j = kept_names.index(member.spec.name)
                fixed[index] = (float(kept["coef"][j]), float(kept["offsets"][j]))
        logging.info("keeping the calibration of %s from %s", [members[i].spec.name for i in fixed],
                     args.keep_calibration)
    rules = read_ensemble(args.keep_calibration) if args.keep_rules else None
    fitted, report = fit_ensemble(spec, members, items, method=args.method, seed=args.seed, progress=logging.info,
                                  member_fakes=member_fakes, fixed=fixed or None, rules=rules)
    command = "python scripts/fit_default_ensemble.py " + " ".join(sys.argv[1:])
    held_out = {source: entry["n"] for source, entry in report["out_of_fold"]["by_source"].items()}
    fitted = replace(fitted, provenance={
        "fit": {"command": command, "held_out_items": held_out,
                "kept_calibrations": {members[i].spec.name: list(v) for i, v in fixed.items()} or None,
                "kept_rules": str(args.keep_calibration) if args.keep_rules else None,
                "frames_per_video": args.frames_per_video,
                "member_fakes": {role: sorted(fakes) for role, fakes in zip(roles, member_fakes, strict=True)},
                "report": f"{args.name}.fit.json (out of fold: 2 halves by identity group)",
                "caveat": "the blend member trained on every FFHQ and politician photo: those held-out real photos "
                          "are unseen by the whole-face member only, so the blend member's photo numbers are "
                          "optimistic"},
    })
    path = save_ensemble(fitted, args.out)
    # members are stored as bundled names or as paths relative to the ensemble file
    member_specs = [json.loads(resolve_detector(args.out / m if m.endswith(".json") else m).read_text(encoding="utf-8"))
                    for m in fitted.members]
    sha256 = create_detector(path, device="cpu").spec.sha256
    card = render_ensemble_card(json.loads(path.read_text(encoding="utf-8"))["ensemble"], member_specs, report,
                                sha256=sha256)
    (args.out / f"{args.name}.md").write_text(card, encoding="utf-8")
    (args.out / f"{args.name}.fit.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    summary = {k: report[k] for k in ("in_sample", "out_of_fold")}
    print(path)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
