"""Mine the morph readings of ``lexicons/knowledge/speech.yaml`` (MORPH_READING) from LiveAMR.

LiveAMR's morph-resolution datasets (loopback00/Morph-Resolution-Datasets-and-Methods,
``dataset/{HealthAMR,GeneralAMR}/plm/*.tsv``) hold real live-room ASR sentences, each with the
sentence as meant, a type and an explanation such as ``小糖人为语义变体词，原词为"糖尿病患者"。``
(``无`` where there is no morph). A morph is kept when:

- at least 2 distinct sentences annotate it;
- at least 80 % of the dataset's sentences that contain it annotate it, or a longer morph that
  holds it (预抹 in 预抹方): it is rarely a plain word;
- at least 80 % of its annotations give the same word, the reading kept;
- it is 2 characters or more, and no word of jieba's dictionary (白大褂 is kept by hand);
- it is not in ``LEFT_OUT`` (read by hand: literal phrases, readings that are not a word).

Sentences sharing more than 30 % of their 8-character pieces with a held-out line of the corpus
are left out before counting, so the held-out part stays unseen.

    git -C <snapshot> show HEAD:dataset/HealthAMR/plm/train.tsv > train.tsv   # and the others
    python tests/data/real/mine_morphs.py DIR_OF_TSV_FILES > morphs.yaml
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

EXPLANATION = re.compile(
    r'["“]?([^，,。“”"]+?)["”]?(?:为|是)(?:结构|语义)变体词[，,]\s*原词为["“]+([^”"]+)["”]+'
)
KEPT_BY_HAND = {"白大褂"}
LEFT_OUT = {
    "八加一", "大白糖", "科技用的活", "缓和力", "眼嫌变黑", "盐什么钙", "明米", "几千名", "支撑架",
    "小窗户", "红色液体", "红色管道", "新母", "西母", "呆萌性", "磨合标的", "空空静静的",
    "带宽宽净净的", "小肠肠小痘痘", "人工值", "饱和养", "合口", "身产", "抹光", "老抹", "呆萌", "白哥",
    "混合质", "化学化产物", "这什么价", "接什么段", "阿丘", "小小问", "小题",
    "糖友",  # the lexicons name it already (MED-FOR-CONDITION-SPOKEN)
}  # fmt: skip
CORPUS = Path(__file__).resolve().parent


def pieces(text: str, n: int = 8) -> set[str]:
    text = re.sub(r"[\s，。、！？,.!?：:；;“”\"]", "", text)
    return {text[i : i + n] for i in range(max(1, len(text) - n + 1))}


def held_out_pieces() -> list[set[str]]:
    paths = sorted(CORPUS.glob("*.jsonl"))
    lines = (json.loads(line) for path in paths for line in path.open(encoding="utf-8"))
    return [pieces(r["text"]) for r in lines if r.get("part") == "heldout"]


def near_held_out(text: str, held: list[set[str]], index: dict[str, list[int]]) -> bool:
    mine = pieces(text)
    shared = Counter(i for p in mine for i in index.get(p, ()))
    return any(c / min(len(mine), len(held[i])) > 0.3 for i, c in shared.items())


def mine(tsv_dir: Path, is_word: Callable[[str], bool] | None = None) -> list[tuple[str, str, int]]:
    held = held_out_pieces()
    index: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(held):
        for piece in p:
            index[piece].append(i)
    csv.field_size_limit(1 << 30)
    sentences: dict[str, set[str]] = {}  # each sentence with the morphs annotated in it
    annotated: dict[str, set[str]] = defaultdict(set)
    words: dict[str, Counter[str]] = defaultdict(Counter)
    for path in sorted(tsv_dir.glob("*.tsv")):
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.reader(f, delimiter="\t"):
                if len(row) < 4 or near_held_out(row[0], held, index):
                    continue
                found = sentences.setdefault(row[0], set())
                for said, meant in EXPLANATION.findall(row[3]):
                    morph, word = said.strip(), meant.strip()
                    if morph and morph != word:
                        annotated[morph].add(row[0])
                        words[morph][word] += 1
                        found.add(morph)
    kept = []
    for morph, said in annotated.items():
        containing = [s for s in sentences if morph in s]
        held = sum(1 for s in containing if any(morph in m for m in sentences[s]))
        word, agreeing = words[morph].most_common(1)[0]
        if (
            len(said) >= 2
            and containing
            and held / len(containing) >= 0.8
            and agreeing / sum(words[morph].values()) >= 0.8
            and len(morph) >= 2
            and morph not in LEFT_OUT
            and (morph in KEPT_BY_HAND or is_word is None or not is_word(morph))
        ):
            kept.append((morph, word, len(said)))
    return sorted(kept, key=lambda k: (-k[2], k[0]))


def main() -> None:
    from pipeline.claims import load_detector

    tokenizer = load_detector()._tokenizer
    for morph, word, count in mine(Path(sys.argv[1]), tokenizer.is_common_word):
        print(f"      {morph}: {word}  # {count}")


if __name__ == "__main__":
    main()
