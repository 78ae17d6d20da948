"""engine.metrics against hand-computed values (Rabin et al. §4.3)."""
from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest

from engine import metrics
from engine.metrics import varmisuse as varmisuse_module
from engine.metrics import gini, sorted_scores
from engine.metrics.varmisuse import METRIC_INFO, repair_correct, varmisuse_metrics


def gini_double_sum(x) -> float:
    """§4.3.3 literally: sum_i sum_j |L_i - L_j| / (2 n sum_i L_i)."""
    x = [float(v) for v in x]
    n = len(x)
    return sum(abs(a - b) for a, b in product(x, x)) / (2 * n * sum(x))


# --- gini ----------------------------------------------------------------------------

def test_gini_equal_values_is_zero():
    assert gini([1, 1, 1, 1]) == 0.0
    assert gini([0.1] * 7) == pytest.approx(0.0, abs=1e-15)


def test_gini_one_holds_everything():
    # ordered pairs with a difference: (i, 3) and (3, i) for i in 0..2 -> 6 pairs of |0-1|
    # sum |diff| = 6; 2 * n * sum = 2 * 4 * 1 = 8 -> 6/8 = 0.75 = (n-1)/n
    assert gini([0, 0, 0, 1]) == pytest.approx(0.75, abs=1e-15)


def test_gini_one_to_four():
    # unordered pairs: |1-2|+|1-3|+|1-4|+|2-3|+|2-4|+|3-4| = 1+2+3+1+2+1 = 10
    # ordered pairs: 20; 2 * n * sum = 2 * 4 * 10 = 80 -> 20/80 = 0.25
    assert gini([1, 2, 3, 4]) == pytest.approx(0.25, abs=1e-15)
    # sorted form: weights 2i-n-1 = -3,-1,1,3 -> -3-2+3+12 = 10; n*sum = 40 -> 0.25
    assert gini_double_sum([1, 2, 3, 4]) == pytest.approx(0.25, abs=1e-15)


def test_gini_two_values():
    # [1, 3]: ordered |diff| sum = 4; 2*2*4 = 16 -> 0.25
    assert gini([1, 3]) == pytest.approx(0.25, abs=1e-15)
    assert gini([5]) == 0.0


def test_gini_matches_double_sum_on_random_data():
    rng = np.random.default_rng(7)
    for x in (rng.exponential(2.0, 500), rng.uniform(0, 1, 500), rng.lognormal(0, 2, 500)):
        assert gini(x) == pytest.approx(gini_double_sum(x), rel=1e-12, abs=1e-14)
    ints = rng.integers(0, 5, 500)  # many ties, some zeros
    assert gini(ints) == pytest.approx(gini_double_sum(ints), rel=1e-12)


def test_gini_order_and_scale_invariant():
    rng = np.random.default_rng(3)
    x = rng.exponential(1.0, 300)
    g = gini(x)
    assert gini(rng.permutation(x)) == pytest.approx(g, rel=1e-12)
    assert gini(x[::-1]) == pytest.approx(g, rel=1e-12)
    assert gini(x * 1000.0) == pytest.approx(g, rel=1e-12)
    assert gini(x / 1e6) == pytest.approx(g, rel=1e-12)
    assert gini(x.astype(np.float32)) == pytest.approx(gini(x.astype(np.float32).astype(np.float64)), rel=1e-12)


def test_gini_edge_cases():
    assert math.isnan(gini([]))
    assert gini([0, 0, 0]) == 0.0
    assert isinstance(gini([1, 2]), float)
    with pytest.raises(ValueError):
        gini([1.0, -0.5])
    with pytest.raises(ValueError):
        gini([1.0, float("nan")])
    with pytest.raises(ValueError):
        gini([1.0, float("inf")])
    with pytest.raises(ValueError):
        gini([[1.0, 2.0]])


def test_sorted_scores():
    s = np.array([0.3, 0.9, 0.1, 0.5], dtype=np.float32)
    out = sorted_scores(s)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [0.1, 0.3, 0.5, 0.9], rtol=1e-6)
    assert s[0] == np.float32(0.3)  # input untouched
    assert sorted_scores([]).shape == (0,)


def test_repair_correct_threshold_inclusive():
    np.testing.assert_array_equal(repair_correct([0.49999, 0.5, 0.51, 1.0, 0.0]), [False, True, True, True, False])


# --- varmisuse_metrics ----------------------------------------------------------------

def table6() -> dict[str, np.ndarray]:
    # i  has_bug loc_pred loc_ok loc_score loc_loss mass  rep_ok rep_score rep_loss loss
    # 0    1       5        1      0.8       0.5    0.9    1      0.9      0.25    0.75
    # 1    1       3        0      0.6       2.0    0.5    1      0.5      1.0     3.0
    # 2    1       7        1      0.4       1.0    0.2    0      0.7      1.5     2.5
    # 3    0       0        1      0.9       0.25   0.0    0      0.3      0       0.25
    # 4    0       4        0      0.5       1.25   0.0    0      0.2      0       1.25
    # 5    0       2        0      0.7       0.25   0.0    0      0.1      0       0.25
    return {
        "has_bug": np.array([1, 1, 1, 0, 0, 0], dtype=bool),
        "loc_pred": np.array([5, 3, 7, 0, 4, 2]),
        "loc_correct": np.array([1, 0, 1, 1, 0, 0], dtype=bool),
        "loc_score": np.array([0.8, 0.6, 0.4, 0.9, 0.5, 0.7]),
        "loc_loss": np.array([0.5, 2.0, 1.0, 0.25, 1.25, 0.25]),
        "rep_target_mass": np.array([0.9, 0.5, 0.2, 0.0, 0.0, 0.0]),
        "rep_correct": np.array([1, 1, 0, 0, 0, 0], dtype=bool),
        "rep_score": np.array([0.9, 0.5, 0.7, 0.3, 0.2, 0.1]),
        "rep_loss": np.array([0.25, 1.0, 1.5, 0.0, 0.0, 0.0]),
        "loss": np.array([0.75, 3.0, 2.5, 0.25, 1.25, 0.25]),
    }


def test_varmisuse_metrics_hand_table():
    m = varmisuse_metrics(table6())
    # buggy samples 0, 1, 2; localized: 0 and 2 -> 2/3
    assert m["loc_accuracy"] == pytest.approx(2 / 3)
    # repair mass >= 0.5: 0 (0.9) and 1 (exactly 0.5 counts) -> 2/3
    assert m["repair_accuracy"] == pytest.approx(2 / 3)
    # bug-free samples 3, 4, 5; predicted at token 0: only 3 -> 1/3
    assert m["nobug_accuracy"] == pytest.approx(1 / 3)
    # localized and repaired: only sample 0 -> 1/3
    assert m["joint_accuracy"] == pytest.approx(1 / 3)
    # loss: 0.75+3.0+2.5+0.25+1.25+0.25 = 8.0 -> 8/6
    assert m["loss"] == pytest.approx(8 / 6)
    # loc_loss: 0.5+2.0+1.0+0.25+1.25+0.25 = 5.25 -> 0.875
    assert m["loc_loss"] == pytest.approx(0.875)
    # rep_loss: 0.25+1.0+1.5 = 2.75 over all 6 -> 2.75/6; loc_loss + rep_loss = loss
    assert m["rep_loss"] == pytest.approx(2.75 / 6)
    assert m["loc_loss"] + m["rep_loss"] == pytest.approx(m["loss"])
    # gini of loss: sorted 0.25,0.25,0.75,1.25,2.5,3.0 with weights -5,-3,-1,1,3,5:
    # -1.25-0.75-0.75+1.25+7.5+15 = 21; n * sum = 6 * 8 = 48 -> 21/48 = 0.4375
    # (unordered pair differences sum to 21, ordered 42, / (2*6*8 = 96) = 0.4375)
    assert m["gini_loss"] == pytest.approx(0.4375)
    # one Gini per head. Location, all samples: sorted 0.25,0.25,0.5,1.0,1.25,2.0 (sum 5.25):
    # -1.25-0.75-0.5+1.0+3.75+10 = 12.25 over 6 * 5.25 = 31.5 -> 7/18
    assert m["gini_loc_loss"] == pytest.approx(7 / 18)
    # repair, buggy samples only: 0.25,1.0,1.5 (sum 2.75), weights -2,0,2: 2.5 / 8.25 -> 10/33
    assert m["gini_rep_loss"] == pytest.approx(10 / 33)
    # loc_score over all: 0.8+0.6+0.4+0.9+0.5+0.7 = 3.9 -> 0.65
    assert m["mean_score_loc"] == pytest.approx(0.65)
    # rep_score over buggy: 0.9+0.5+0.7 = 2.1 -> 0.7
    assert m["mean_score_repair"] == pytest.approx(0.7)
    assert m["n"] == 6 and m["n_buggy"] == 3
    assert all(isinstance(v, float) for v in m.values())
    assert set(m) <= set(METRIC_INFO)


def test_varmisuse_metrics_no_buggy_samples_gives_nan():
    t = {k: v[3:] for k, v in table6().items()}
    m = varmisuse_metrics(t)
    for k in ("loc_accuracy", "repair_accuracy", "joint_accuracy", "mean_score_repair"):
        assert math.isnan(m[k]), k
    assert m["nobug_accuracy"] == pytest.approx(1 / 3)
    assert m["n_buggy"] == 0.0


def test_varmisuse_metrics_no_clean_samples_gives_nan():
    t = {k: v[:3] for k, v in table6().items()}
    m = varmisuse_metrics(t)
    assert math.isnan(m["nobug_accuracy"])
    assert m["loc_accuracy"] == pytest.approx(2 / 3)


def test_varmisuse_metrics_empty():
    m = varmisuse_metrics({k: v[:0] for k, v in table6().items()})
    assert m["n"] == 0.0
    assert math.isnan(m["loss"]) and math.isnan(m["gini_loss"])


def test_varmisuse_metrics_rejects_broken_arrays():
    t = table6()
    del t["rep_score"]
    with pytest.raises(ValueError, match="rep_score"):
        varmisuse_metrics(t)
    t = table6()
    t["loss"] = t["loss"][:5]
    with pytest.raises(ValueError, match="length"):
        varmisuse_metrics(t)
    t = table6()
    t["loss"] = t["loss"] + 0.1
    with pytest.raises(ValueError, match="loc_loss"):
        varmisuse_metrics(t)
    t = table6()
    t["rep_loss"][4] = 20.7  # repair ignored on bug-free samples
    t["loss"][4] += 20.7
    with pytest.raises(ValueError, match="bug-free"):
        varmisuse_metrics(t)
    t = table6()
    t["rep_correct"][2] = True
    with pytest.raises(ValueError, match="rep_correct"):
        varmisuse_metrics(t)


def test_metric_info_table():
    for name, info in METRIC_INFO.items():
        assert info.description and info.higher_is_better in (True, False, None)
    assert METRIC_INFO["gini_loss"].section == "4.3.3"
    assert METRIC_INFO["loc_accuracy"].higher_is_better is True
    assert METRIC_INFO["loss"].higher_is_better is False


def test_metrics_module_does_not_import_torch():
    import ast
    import inspect

    for module in (metrics, varmisuse_module):
        tree = ast.parse(inspect.getsource(module))
        names = {a.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                 for a in node.names}
        mods = {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert "torch" not in names | mods
