"""Group tagging, person keys and identity-disjoint folds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from simkyc.eval.groups import (
    Group,
    fold_array,
    fold_of_people,
    group_of_source,
    load_identities,
    person_key,
    subgroup_of_source,
)


def test_sources_map_to_groups() -> None:
    assert group_of_source("east_asian_KpopIdolFaceClassifier_tapankarnik") is Group.EAST_ASIAN
    assert group_of_source("asian_celeb_nz0001na") is Group.EAST_ASIAN
    assert group_of_source("nuaa_spoof_print") is Group.EAST_ASIAN
    assert group_of_source("lfw") is Group.OTHER
    assert group_of_source("deepface") is Group.OTHER
    assert subgroup_of_source("nuaa_real") == "cn_webcam"
    assert subgroup_of_source("face_recognition") == "other"


def test_person_key_merges_spellings_of_one_person() -> None:
    assert person_key("angelina_jolie") == person_key("Angelina_Jolie")
    assert person_key("AsianFaces:japanese__haruka-ayase") == person_key("Ayase_Haruka")
    assert person_key("DeepNogizaka:Asuka_Saito") != person_key("DeepNogizaka:Erika_Ikuta")


def test_folds_are_balanced_per_group_and_independent_of_order() -> None:
    people = [f"p{i}" for i in range(100)]
    groups = ["a" if i < 30 else "b" for i in range(100)]
    folds = fold_of_people(people, groups, k=5, seed=3)
    assert fold_of_people(people[::-1], groups[::-1], k=5, seed=3) == folds
    per_a = Counter(folds[p] for p, g in zip(people, groups, strict=True) if g == "a")
    assert sorted(per_a.values()) == [6, 6, 6, 6, 6]
    assert fold_of_people(people, groups, k=5, seed=4) != folds


def test_real_identities_are_tagged_and_folds_keep_people_whole(faces_dir: Path) -> None:
    images = load_identities(faces_dir)
    groups = Counter(im.group for im in images)
    assert groups[Group.EAST_ASIAN] > 1000 and groups[Group.OTHER] > 2000
    # the file name with a comma in it is read whole
    with_comma = [im for im in images if "," in im.path]
    assert with_comma and all((faces_dir / im.path).is_file() for im in with_comma)
    folds = fold_array(images, k=5)
    by_person: dict[str, set[int]] = {}
    for im, f in zip(images, folds.tolist(), strict=True):
        by_person.setdefault(im.person, set()).add(f)
    assert all(len(fs) == 1 for fs in by_person.values())
    # deepface's angelina_jolie and LFW's Angelina_Jolie are one person, hence one fold
    jolie = {f for im, f in zip(images, folds.tolist(), strict=True) if "jolie" in im.identity.lower()}
    assert len(jolie) == 1
    assert set(np.unique(folds).tolist()) == {0, 1, 2, 3, 4}
