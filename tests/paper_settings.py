"""The settings the AMOC paper fixes (Liu et al., TCSVT, Sec. III-D and IV-B), in one place.

The paper's reported *results* live in amoc/report/paper_reference.yaml; its test length, train
length and split counts are stated there too and checked against these (tests/test_paper_preset.py)
so the two cannot drift. Everything here is what config/paper.yaml must resolve to.
"""

from __future__ import annotations

PAPER_SETTINGS = {
    "preset": "paper",
    # Sec. III-D2: Siamese training one pair at a time with SGD, lr 1e-3, margin 2, sub-sequences
    # of 16 consecutive frames; 1000 epochs (2000 on MARS).
    "train": {"mode": "paper", "optimizer": "sgd", "lr": 1e-3, "seq_len": 16, "margin": 2.0,
              "epochs": 1000},
    "epochs_mars": 2000,
    # the full-width FlowNet-like motion net
    "model": {"motion_width": 1.0},
    # Sec. IV-B: probe/gallery sequences of 128 frames, 8 crops x mirror at test, cam1 probes.
    "eval": {"test_lengths": [128], "tta": "crops8_flip", "probe_frames": "first",
             "gallery_frames": "last"},
    # Sec. III-D1: the motion net pre-trained once, on iLIDS-VID, with Adam at 1e-4 for 60000
    # iterations, the rate halved after 20000 and then every 10000; Eq. 13's threshold of 1
    # read in pixels (the paper gives no unit: flow_scale 1).
    "pretrain": {"dataset": "ilidsvid", "iterations": 60000, "lr": 1e-4, "halve_after": 20000,
                 "halve_every": 10000, "flow_scale": 1.0},
    "splits": {"ilidsvid": 10, "prid2011": 10, "mars": 1},
    "fig6a_test_lengths": [1, 2, 4, 8, 16, 32, 64, 128],
    "fig6c_margins": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    "fig6d_embeddings": [64, 128, 256, 512, 1024],
}
