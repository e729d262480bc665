"""The student's native level runner (the fast path's levels in C): numerics against PyTorch, build cache, fallbacks."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tha4_sdk.character import load_character
from tha4_sdk.models import c_kernels
from tha4_sdk.models.student import native_runner
from tha4_sdk.render.base import RenderOptionError
from tha4_sdk.render.student_fast import FastStudentSession


@pytest.fixture
def fresh_load():
    """`native_runner.load` with its per-process cache cleared before and after."""
    native_runner.load.cache_clear()
    yield native_runner.load
    native_runner.load.cache_clear()


@pytest.fixture(scope="module")
def runner() -> native_runner.NativeRunner:
    built = native_runner.load()
    assert built is not None, "a C compiler is part of the test environment (.ci/install)"
    return built


def _weights(g: torch.Generator, widths: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Hidden sine layers in × out, of a moderate scale: float rounding stays small, so the comparison
    checks the arithmetic and indexing (the full-network precision is in test_student_fast)."""
    return [(torch.randn(a, b, generator=g) * 2 / a ** 0.5, torch.randn(b, generator=g))
            for a, b in zip(widths, widths[1:])]


def test_polynomial_sine_matches_libm_over_the_siren_range(runner) -> None:
    x = torch.linspace(-1000, 1000, 2_000_001)  # pre-activations with ω0 = 30 folded in stay far below this
    got = runner.sin_(x.clone())
    # measured 1.6e-7 (torch.sin: 3.6e-8); a float32 result near 1 is only good to 6e-8 anyway
    assert (got.double() - torch.sin(x.double())).abs().max().item() < 3e-7
    assert torch.isnan(runner.sin_(torch.tensor([float("nan")])))[0]


def test_position_level_equals_its_pytorch_definition(runner) -> None:
    g = torch.Generator().manual_seed(0)
    size, widths = 20, [24, 40, 16]
    hidden = _weights(g, widths)
    rows, cols = torch.randn(size, 24, generator=g) * 5, torch.randn(size, 24, generator=g) * 5
    out_w, out_b = torch.randn(16, 7, generator=g), torch.randn(7, generator=g)
    x = torch.sin(rows[:, None] + cols[None]).reshape(-1, 24)
    for w, b in hidden:
        x = torch.sin(x @ w + b)
    want = (x @ out_w + out_b).reshape(size, size, 7)
    got = torch.full((size, size, 7), float("nan"))
    level = runner.prepare(hidden=hidden, out_w=out_w, col_terms=cols, out_b=out_b, tile_values=3 * size * 40)
    for band in [(0, 7), (7, 8), (8, size)]:  # bands, one of a single row, as the workers call it
        level.run(band, got, row_terms=rows)
    torch.testing.assert_close(got, want, rtol=0, atol=2e-5)


def test_upsampling_level_equals_its_pytorch_definition(runner) -> None:
    g = torch.Generator().manual_seed(1)
    size, widths = 16, [12, 12, 10]
    hidden = _weights(g, widths)
    feat = torch.randn(size // 2, size // 2, 12, generator=g) * 3
    edge_rows, edge_cols = torch.randn(2, 12, generator=g), torch.randn(2, 12, generator=g)
    out_w = torch.randn(10, 5, generator=g)
    next_rows, next_cols = torch.randn(size, 5, generator=g), torch.randn(size, 5, generator=g)
    pre = F.interpolate(feat.permute(2, 0, 1)[None], size=(size, size), mode="bilinear", align_corners=False)
    pre = pre[0].permute(1, 2, 0).clone()
    pre[0] += edge_rows[0]
    pre[-1] += edge_rows[1]
    pre[:, 0] += edge_cols[0]
    pre[:, -1] += edge_cols[1]
    x = torch.sin(pre.reshape(-1, 12))
    for w, b in hidden:
        x = torch.sin(x @ w + b)
    want = (x @ out_w).reshape(size, size, 5) + next_rows[:, None] + next_cols[None]
    got = torch.empty(size, size, 5)
    level = runner.prepare(hidden=hidden, out_w=out_w, edges=(edge_rows, edge_cols), out_col_terms=next_cols,
                           tile_values=1)  # one row per tile
    level.run((0, size), got, feat=feat, out_row_terms=next_rows)
    torch.testing.assert_close(got, want, rtol=0, atol=2e-5)


def test_the_runner_refuses_layouts_it_cannot_read(runner) -> None:
    with pytest.raises(ValueError, match="contiguous float32 CPU"):
        runner.sin_(torch.zeros(4, 6).t())
    with pytest.raises(ValueError, match="float64"):
        runner.sin_(torch.zeros(8, dtype=torch.float64))
    with pytest.raises(ValueError, match="contiguous float32 CPU"):
        runner.prepare(hidden=[(torch.zeros(4, 4).t(), torch.zeros(4))], out_w=torch.zeros(4, 2))


def test_worker_threads_can_make_the_blas_single_threaded(runner) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            runner.single_threaded()
            runner.sin_(torch.zeros(4))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_the_build_is_cached_per_source_compiler_and_cpu(tmp_path: Path) -> None:
    compiler = c_kernels.compiler()
    assert compiler
    first = native_runner.build(compiler, tmp_path)
    built_at = first.stat().st_mtime_ns
    assert native_runner.build(compiler, tmp_path) == first and first.stat().st_mtime_ns == built_at
    assert [p.name for p in tmp_path.iterdir()] == [first.name], "no temporary files left behind"


def test_without_a_working_compiler_the_fast_path_uses_torch_ops(tmp_path: Path, fresh_load, lambda_00,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "cc"
    broken.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then echo broken-cc 1.0; exit 0; fi\n"
                      "echo 'broken-cc: cannot compile today' >&2; exit 1\n")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("CC", str(broken))
    with pytest.warns(RuntimeWarning, match="cannot compile today.*PyTorch ops"):
        assert fresh_load() is None
    assert not list((Path(os.environ["THA4_HOME"]) / "kernels").glob("*.so*"))
    character = load_character(lambda_00)
    with FastStudentSession(character, torch.device("cpu"), torch.float32) as session:
        assert session.native is False
        assert session.outputs(torch.zeros(1, 45))[0].shape == (1, 4, 512, 512)
    with pytest.raises(RenderOptionError, match="^native=True, but the native student runner is unavailable"):
        FastStudentSession(character, torch.device("cpu"), torch.float32, native=True)


def test_tha4_native_0_turns_the_runner_off(fresh_load, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THA4_NATIVE", "0")
    assert fresh_load() is None


def test_compose_equals_the_official_warp_and_blend_beyond_the_borders(runner) -> None:
    from tha4_sdk.models.student.body_morpher import compose_body_outputs
    from tha4_sdk.models.warp import identity_grid

    g = torch.Generator().manual_seed(2)
    size = 24
    head = torch.randn(size, size, 7, generator=g)
    head[..., :2] *= 0.6  # sampling positions well outside the image too: border padding
    image = torch.randn(4, size, size, generator=g)
    grid = identity_grid(1, size, size, device=torch.device("cpu"), dtype=torch.float32)[0]
    base = grid[0, :, 0].contiguous(), grid[:, 0, 1].contiguous()
    got = [torch.full((c, size, size), float("nan")) for c in (4, 1, 4, 4, 2)]
    for band in [(0, 5), (5, size)]:
        runner.compose(band, head, image, base, got)
    want = compose_body_outputs(image[None], head.permute(2, 0, 1)[None])
    for name, w, o in zip(["blended", "alpha", "colour", "warped", "grid change"], want, got):
        torch.testing.assert_close(o, w[0], rtol=0, atol=2e-6, msg=name)
