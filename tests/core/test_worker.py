"""run_task over the whole corpus (hostile files included), atomic writes,
path safety, dates, faults: the single-file rows of RELIABILITY.md A and C."""

import errno
import hashlib
import os
import pickle
import subprocess
import sys

import pytest
from PIL import Image

from gui_app.core import worker
from gui_app.core.specs import Code, Limits, OpSpec, Pipeline, Status, TaskResult, TaskSpec
from gui_app.core.worker import TEMP_MARKER, run_chunk, run_task, run_task_bytes, write_atomic
from tests.core.test_runner_fakes import process_alive, survivors

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WEB = Pipeline((OpSpec.make("auto_orient"), OpSpec.make("resize", mode="long_edge", long_edge=256),
                OpSpec.make("metadata", mode="strip_gps"), OpSpec.make("encode", format="webp", quality=75)))

FAIL_TRUNCATED = {Code.TRUNCATED, Code.CORRUPT}
#: What each hostile file must produce (RELIABILITY.md section A).
HOSTILE_EXPECTED = {
    "broken.png": FAIL_TRUNCATED,
    "broken_data_stream.png": FAIL_TRUNCATED,
    "truncated_image.png": FAIL_TRUNCATED,
    "truncated_jpeg.jpg": FAIL_TRUNCATED,
    "crash-0c7e0e8e11ce787078f00b5b0ca409a167f070e0.tif": FAIL_TRUNCATED | {Code.UNSUPPORTED_FORMAT},
    "crash-465703f71a0f0094873a3e0e82c9f798161171b8.sgi": {Code.UNSUPPORTED_FORMAT},
    "oom-8ed3316a4109213ca96fb8a256a0bfefdece1461.icns": {Code.UNSUPPORTED_FORMAT},
    "timeout-060745d3f534ad6e4128c51d336ea5489182c69d.blp": {Code.UNSUPPORTED_FORMAT},
    "timeout-1ee28a249896e05b83840ae8140622de8e648ba9.psd": {Code.UNSUPPORTED_FORMAT},
    "decompression_bomb.gif": {Code.TOO_LARGE},
    "png_decompression_dos.png": {Code.TOO_LARGE, Code.CORRUPT},
    "empty.jpg": {Code.UNSUPPORTED_FORMAT},
    "text_named.jpg": {Code.UNSUPPORTED_FORMAT},
    "spoofed_eps.jpg": {Code.UNSUPPORTED_FORMAT},
    "spoofed_psd.png": {Code.UNSUPPORTED_FORMAT},
    "pil_sample_cmyk.jpg": {Code.OK},
    "exif_gps.jpg": {Code.OK},
    "exif-dpi-zerodivision.jpg": {Code.OK},
    "hopper_bad_exif.jpg": {Code.OK},
    "invalid-exif.jpg": {Code.OK},
}


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def snapshot(folder):
    return {p: (digest(p), os.stat(p).st_mtime_ns) for p in map(str, sorted(folder.rglob("*"))) if os.path.isfile(p)}


def spec_for(src, out, pipeline=WEB, **kw):
    return TaskSpec(kw.pop("task_id", 1), str(src), str(out), pipeline, **kw)


def temp_files(folder):
    return [p for p in folder.rglob("*") if TEMP_MARKER in p.name]


def test_every_corpus_file_gives_the_expected_result(corpus, tmp_path):
    before = snapshot(corpus)
    out_root = tmp_path / "out"
    seen_hostile = set()
    for i, src in enumerate(sorted(p for p in corpus.rglob("*") if p.is_file())):
        rel = src.relative_to(corpus)
        out = out_root / rel.parent / (src.name + ".webp")
        result = run_task(spec_for(src, out, task_id=i))
        pickle.loads(pickle.dumps(result))
        assert isinstance(result, TaskResult) and result.seconds > 0
        if rel.parts[0] == "hostile":
            seen_hostile.add(src.name)
            assert Code(result.code) in HOSTILE_EXPECTED[src.name], (src.name, result.code, result.message)
        elif src.suffix.lower() in (".md", "") or src.name == "LICENSE":
            assert result.code == Code.UNSUPPORTED_FORMAT
        else:
            assert result.code == Code.OK, (src.name, result.message)
        if result.code == Code.OK:
            assert result.status == Status.OK
            with Image.open(out) as im:
                assert im.format == "WEBP" and im.size == (result.width_out, result.height_out)
                assert max(im.size) <= 256
                assert not im.getexif().get_ifd(0x8825)
            assert result.bytes_in == src.stat().st_size and result.bytes_out == out.stat().st_size
            assert result.format_out == "webp" and result.format_in
        else:
            assert result.status == Status.FAILED
            assert not out.exists()
            assert result.message and "Traceback" not in result.message
    assert seen_hostile == set(HOSTILE_EXPECTED)
    assert temp_files(tmp_path) == []
    assert snapshot(corpus) == before


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", sorted(n for n in HOSTILE_EXPECTED if n.startswith(("crash", "oom", "timeout"))))
def test_fuzzer_reproducers_finish_fast(corpus, tmp_path, name):
    for pipeline in (WEB, Pipeline()):
        result = run_task(spec_for(corpus / "hostile" / name, tmp_path / "x.png", pipeline))
        assert result.status == Status.FAILED


def test_cmyk_and_warnings_in_the_result(corpus, tmp_path):
    result = run_task(spec_for(corpus / "hostile" / "pil_sample_cmyk.jpg", tmp_path / "c.jpg",
                               Pipeline((OpSpec.make("encode", format="jpeg"),))))
    assert result.ok
    with Image.open(tmp_path / "c.jpg") as im:
        assert im.mode == "RGB"
    bad = run_task(spec_for(corpus / "hostile" / "hopper_bad_exif.jpg", tmp_path / "b.jpg", WEB))
    assert bad.ok and any("EXIF" in w for w in bad.warnings)


def test_pillows_warnings_about_a_file_go_into_its_result_not_the_terminal(corpus, tmp_path, recwarn, capsys):
    """Pillow warns ("Tag data larger than file") while reading this fuzzed
    TIFF; the note belongs to the file's result (report, log), once."""
    name = "crash-0c7e0e8e11ce787078f00b5b0ca409a167f070e0.tif"
    for run in (lambda spec: run_task(spec),
                lambda spec: run_task_bytes(spec, (corpus / "hostile" / name).read_bytes())[0]):
        result = run(spec_for(corpus / "hostile" / name, tmp_path / "x.png"))
        assert result.status == Status.FAILED
        notes = [w for w in result.warnings if "Tag data larger than file" in w]
        assert len(notes) == 1 and notes[0].startswith("while reading: ")
    assert not [w for w in recwarn if "Tag data" in str(w.message)]
    assert "Tag data" not in capsys.readouterr().err


def test_result_fields(corpus, tmp_path):
    src = corpus / "orientation" / "Portrait_6.jpg"
    result = run_task(spec_for(src, tmp_path / "deep" / "er" / "p.webp"))
    assert result.ok and os.path.exists(tmp_path / "deep" / "er" / "p.webp")  # folders created
    assert (result.width_in, result.height_in) == (1800, 1200)  # as stored
    assert (result.width_out, result.height_out) == (171, 256)  # upright
    assert result.format_in == "jpeg" and result.format_out == "webp"
    assert result.output_path == str(tmp_path / "deep" / "er" / "p.webp")


# ----------------------------------------------------------------- existing outputs and atomic writes


def test_skip_at_write_time_never_clobbers(corpus, tmp_path):
    out = tmp_path / "a.webp"
    out.write_bytes(b"precious")
    result = run_task(spec_for(corpus / "formats" / "hopper.jpg", out))
    assert result.code == Code.SKIPPED_EXISTING and result.status == Status.SKIPPED
    assert out.read_bytes() == b"precious"
    assert write_atomic(str(out), b"new", "skip", None) == Code.SKIPPED_EXISTING
    assert out.read_bytes() == b"precious"
    assert temp_files(tmp_path) == []


def test_a_file_appearing_after_the_check_is_still_not_clobbered(tmp_path, monkeypatch):
    out = tmp_path / "a.png"
    out.write_bytes(b"appeared meanwhile")
    with monkeypatch.context() as m:
        m.setattr(worker.os.path, "lexists", lambda path: False)  # the race: check passes, then the file exists
        assert write_atomic(str(out), b"new", "skip", None) == Code.SKIPPED_EXISTING
    assert out.read_bytes() == b"appeared meanwhile"
    assert temp_files(tmp_path) == []


def test_overwrite_and_rename(corpus, tmp_path):
    out = tmp_path / "a.webp"
    out.write_bytes(b"old")
    assert run_task(spec_for(corpus / "formats" / "hopper.jpg", out, overwrite="overwrite")).ok
    assert out.read_bytes()[:4] == b"RIFF"
    result = run_task(spec_for(corpus / "formats" / "hopper.jpg", out, overwrite="rename"))
    assert result.ok and result.output_path == str(tmp_path / "a (2).webp")
    assert os.path.exists(result.output_path)


def test_encoder_failure_leaves_the_old_output_untouched(tmp_path):
    src = tmp_path / "strip.png"
    Image.new("RGB", (64, 4), "red").save(src)
    out = tmp_path / "strip.webp"
    out.write_bytes(b"old output")
    too_wide = Pipeline((OpSpec.make("resize", mode="exact", width=20000, height=4, upscale=True),
                         OpSpec.make("encode", format="webp")))
    result = run_task(spec_for(src, out, too_wide, overwrite="overwrite"))
    assert result.code == Code.TOO_LARGE and "16383" in result.message
    assert out.read_bytes() == b"old output"
    assert temp_files(tmp_path) == []


def test_disk_full_mid_write_is_reported_and_cleaned_up(corpus, tmp_path, monkeypatch):
    def no_space(fd, data):
        os.write(fd, bytes(data[:10]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(worker, "_write_all", no_space)
    out = tmp_path / "a.webp"
    result = run_task(spec_for(corpus / "formats" / "hopper.jpg", out))
    assert result.code == Code.DISK_FULL and "disk is full" in result.message
    assert not out.exists() and temp_files(tmp_path) == []
    out.write_bytes(b"old")
    assert write_atomic(str(out), b"new data", "overwrite", None) == Code.DISK_FULL
    assert out.read_bytes() == b"old" and temp_files(tmp_path) == []


def test_write_failure_when_the_folder_cannot_be_created(corpus, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_bytes(b"a file where a folder should be")
    result = run_task(spec_for(corpus / "formats" / "hopper.jpg", blocker / "a.webp"))
    assert result.code == Code.WRITE_FAILED and "cannot write a.webp" in result.message
    assert blocker.read_bytes() == b"a file where a folder should be"


def test_keep_dates_copies_the_input_times(corpus, tmp_path):
    src = tmp_path / "in.jpg"
    src.write_bytes((corpus / "formats" / "hopper.jpg").read_bytes())
    os.utime(src, ns=(1_500_000_000_000_000_000, 1_400_000_000_123_456_789))
    result = run_task(spec_for(src, tmp_path / "out.webp", keep_dates=True))
    assert result.ok
    st = os.stat(tmp_path / "out.webp")
    assert st.st_mtime_ns == 1_400_000_000_123_456_789
    assert st.st_atime_ns == 1_500_000_000_000_000_000
    assert run_task(spec_for(src, tmp_path / "now.webp")).ok
    assert os.stat(tmp_path / "now.webp").st_mtime_ns != 1_400_000_000_123_456_789


# ----------------------------------------------------------------- the input is sacred


@pytest.mark.parametrize("how", ["same", "hardlink", "symlink"])
def test_output_that_is_the_input_is_refused(corpus, tmp_path, how):
    src = tmp_path / "in.png"
    src.write_bytes((corpus / "formats" / "hopper.png").read_bytes())
    before = (digest(src), os.stat(src).st_mtime_ns)
    out = src if how == "same" else tmp_path / "out.png"
    if how == "hardlink":
        os.link(src, out)
    elif how == "symlink":
        os.symlink(src, out)
    for overwrite in ("overwrite", "skip"):
        result = run_task(spec_for(src, out, Pipeline(), overwrite=overwrite))
        assert result.code == Code.UNSAFE_PATH, overwrite
    assert (digest(src), os.stat(src).st_mtime_ns) == before


def test_replace_originals_keeps_a_backup_first(corpus, tmp_path):
    src = tmp_path / "photo.jpg"
    original = (corpus / "camera" / "gps_DSCN0010.jpg").read_bytes()
    src.write_bytes(original)
    backup = tmp_path / "backup" / "photo.jpg"
    pipe = Pipeline((OpSpec.make("resize", long_edge=100), OpSpec.make("encode", format="jpeg")))
    result = run_task(spec_for(src, src, pipe, backup_path=str(backup), overwrite="overwrite"))
    assert result.ok, result.message
    assert backup.read_bytes() == original
    with Image.open(src) as im:
        assert max(im.size) == 100
    # A second run must not destroy the first backup.
    again = run_task(spec_for(src, src, pipe, backup_path=str(backup), overwrite="overwrite"))
    assert again.code == Code.UNSAFE_PATH and backup.read_bytes() == original


# ----------------------------------------------------------------- limits, bytes mode, chunks


def test_limits_travel_with_the_spec(corpus, tmp_path):
    result = run_task(spec_for(corpus / "formats" / "hopper.jpg", tmp_path / "a.webp", limits=Limits(max_pixels=1000)))
    assert result.code == Code.TOO_LARGE
    assert run_task(spec_for(corpus / "formats" / "hopper.jpg", tmp_path / "b.webp")).ok


def test_run_task_bytes_touches_no_files(corpus, tmp_path):
    data = (corpus / "formats" / "hopper.png").read_bytes()
    result, out = run_task_bytes(spec_for("/nowhere/hopper.png", tmp_path / "x.webp"), data)
    assert result.ok and out[:4] == b"RIFF" and result.bytes_out == len(out) and result.bytes_in == len(data)
    assert not (tmp_path / "x.webp").exists()
    result, out = run_task_bytes(spec_for("/nowhere/x.jpg", tmp_path / "x.webp"), b"not an image")
    assert result.code == Code.UNSUPPORTED_FORMAT and out is None


def test_run_chunk_keeps_order(corpus, tmp_path):
    specs = tuple(spec_for(corpus / "formats" / n, tmp_path / f"{i}.webp", task_id=i)
                  for i, n in enumerate(["hopper.jpg", "hopper.gif", "../hostile/empty.jpg"]))
    results = run_chunk(specs)
    assert [r.task_id for r in results] == [0, 1, 2]
    assert [r.code for r in results] == [Code.OK, Code.OK, Code.UNSUPPORTED_FORMAT]


def test_missing_input_is_read_failed(tmp_path):
    result = run_task(spec_for(tmp_path / "gone.jpg", tmp_path / "x.webp"))
    assert result.code == Code.READ_FAILED


# ----------------------------------------------------------------- fault injection


@pytest.mark.parametrize("fault,code", [("systemexit", Code.INTERNAL_ERROR), ("keyboardinterrupt", Code.INTERNAL_ERROR),
                                        ("memoryerror", Code.OUT_OF_MEMORY), ("raise_unpicklable", Code.INTERNAL_ERROR)])
def test_faults_become_results(corpus, tmp_path, monkeypatch, fault, code):
    monkeypatch.setenv(worker.FAULTS_ENV, "1")
    result = run_task(spec_for(corpus / "formats" / "hopper.jpg", tmp_path / "a.webp", test_fault=fault))
    assert result.code == code and result.status == Status.FAILED
    assert pickle.loads(pickle.dumps(result)) == result
    assert not (tmp_path / "a.webp").exists()


def test_faults_are_ignored_without_the_environment_variable(corpus, tmp_path, monkeypatch):
    monkeypatch.delenv(worker.FAULTS_ENV, raising=False)
    assert run_task(spec_for(corpus / "formats" / "hopper.jpg", tmp_path / "a.webp", test_fault="systemexit")).ok
    monkeypatch.setenv(worker.FAULTS_ENV, "1")
    assert run_task(spec_for(corpus / "formats" / "hopper.jpg", tmp_path / "b.webp", test_fault="slow:0.01")).ok


@pytest.mark.timeout(30)
@pytest.mark.parametrize("fault,signal_number", [("sigkill", -9), ("segfault", -11)])
def test_fatal_faults_kill_the_process(corpus, tmp_path, fault, signal_number):
    code = (
        "import sys; from gui_app.core.worker import run_task; from gui_app.core.specs import TaskSpec, Pipeline\n"
        f"run_task(TaskSpec(1, {str(corpus / 'formats' / 'hopper.jpg')!r}, {str(tmp_path / 'a.webp')!r}, Pipeline(),"
        f" test_fault={fault!r}))\n"
    )
    env = dict(os.environ, IMAGEBATCH_TEST_FAULTS="1")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, timeout=25)
    assert proc.returncode == signal_number
    assert not (tmp_path / "a.webp").exists()


def test_init_worker_configures_pillow():
    try:
        worker.configure_pillow(Limits(max_pixels=4321))
        assert Image.MAX_IMAGE_PIXELS == 4321
    finally:
        worker.configure_pillow(Limits())


def test_worker_processes_keep_freed_image_memory_for_the_next_image():
    import concurrent.futures as cf
    import multiprocessing as mp

    with cf.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=worker.init_worker,
                                initargs=(Limits(),)) as pool:
        assert pool.submit(Image.core.get_blocks_max).result(timeout=30) == worker.KEPT_IMAGE_BLOCKS


POOL_SCRIPT = """
import concurrent.futures as cf, multiprocessing as mp, os, sys, threading, time
from PIL import Image
from gui_app.core import worker
from gui_app.core.specs import Limits

def probe():
    return os.getpid(), Image.MAX_IMAGE_PIXELS

if __name__ == "__main__":
    pool = cf.ProcessPoolExecutor(2, mp_context=mp.get_context("spawn"), initializer=worker.init_worker,
                                  initargs=(Limits(max_pixels=777),))
    first = []
    starter = threading.Thread(target=lambda: first.extend(pool.submit(probe).result() for _ in range(4)))
    starter.start(); starter.join()  # the thread that started the workers is gone now
    time.sleep(0.5)
    later = [pool.submit(probe).result(timeout=20) for _ in range(4)]
    print(" ".join(str(pid) for pid in {p for p, _ in first + later}), {m for _, m in first + later}, flush=True)
    time.sleep(600)
"""


@pytest.mark.timeout(60)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_outlive_the_starting_thread_but_not_the_parent_process(tmp_path):
    script = tmp_path / "pool_script.py"  # spawn needs an importable main module
    script.write_text(POOL_SCRIPT)
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        pids_text, _, limits_text = proc.stdout.readline().partition(" {")
        pids = [int(p) for p in pids_text.split()]
        assert pids and all(process_alive(p) for p in pids)
        assert limits_text.strip() == "777}"  # the initializer's limits reached the workers
        proc.kill()
        proc.wait(10)
        assert survivors(pids) == [], "orphan workers survived their parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
def test_threads_give_the_same_results_as_sequential(corpus, tmp_path):
    """Threads mode shares Pillow, the colour transforms and the EXIF reader."""
    from concurrent.futures import ThreadPoolExecutor

    names = ["hostile/pil_sample_cmyk.jpg", "hostile/hopper_bad_exif.jpg", "formats/BSG1.tiff",
             "camera/gps_DSCN0010.jpg", "orientation/Portrait_6.jpg", "hostile/truncated_jpeg.jpg",
             "formats/transparent.png", "camera/Canon_40D.jpg"] * 2
    pipe = Pipeline((OpSpec.make("auto_orient"), OpSpec.make("resize", long_edge=200),
                     OpSpec.make("color_profile", mode="srgb"), OpSpec.make("encode", format="jpeg")))

    def specs(folder):
        return [spec_for(corpus / n, tmp_path / folder / f"{i}.jpg", pipe, task_id=i) for i, n in enumerate(names)]

    sequential = [run_task(s) for s in specs("seq")]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(run_task, specs("thr")))
    assert [(r.code, r.warnings) for r in threaded] == [(r.code, r.warnings) for r in sequential]
    for r in sequential:
        if r.ok:
            assert digest(r.output_path) == digest(r.output_path.replace("/seq/", "/thr/"))


def test_salvaging_truncated_files_is_explicit_and_flagged(corpus, tmp_path):
    src = corpus / "hostile" / "truncated_jpeg.jpg"
    assert run_task(spec_for(src, tmp_path / "a.webp")).code in FAIL_TRUNCATED
    try:
        result = run_task(spec_for(src, tmp_path / "b.webp", limits=Limits(load_truncated=True)))
        assert result.ok and any("truncated" in w for w in result.warnings)
        good = run_task(spec_for(corpus / "formats" / "hopper.jpg", tmp_path / "c.webp",
                                 limits=Limits(load_truncated=True)))
        assert good.ok and good.warnings == ()
    finally:
        worker.init_worker(Limits())


def test_a_failed_backup_replaces_nothing_and_leaves_no_partial_copy(corpus, tmp_path, monkeypatch):
    src = tmp_path / "photo.jpg"
    original = (corpus / "formats" / "hopper.jpg").read_bytes()
    src.write_bytes(original)
    backup = tmp_path / "backup" / "photo.jpg"

    def full_disk(a, b, **kw):
        open(b, "wb").write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(worker.shutil, "copy2", full_disk)
    result = run_task(spec_for(src, src, Pipeline(), backup_path=str(backup), overwrite="overwrite"))
    assert result.code == Code.DISK_FULL and "nothing was replaced" in result.message
    assert src.read_bytes() == original and not backup.exists()


def test_writes_are_not_flushed_per_file_unless_durable_writes_is_on(corpus, tmp_path, monkeypatch):
    flushed = []
    real_fsync = os.fsync
    monkeypatch.setattr(worker.os, "fsync", lambda fd: (flushed.append(fd), real_fsync(fd)))
    assert Limits().durable_writes is False
    for name in ("a.webp", "b.webp", "c.webp"):  # the default: atomic, but no fsync
        assert run_task(spec_for(corpus / "formats" / "hopper.jpg", tmp_path / name)).ok
    assert flushed == []
    assert (tmp_path / "a.webp").read_bytes()[:4] == b"RIFF"
    assert not [p for p in tmp_path.iterdir() if worker.TEMP_MARKER in p.name]
    durable = Limits(durable_writes=True)
    for name in ("d.webp", "e.webp"):
        assert run_task(spec_for(corpus / "formats" / "hopper.jpg", tmp_path / name, limits=durable)).ok
    assert len(flushed) == 2  # one flush per output
    assert (tmp_path / "e.webp").read_bytes()[:4] == b"RIFF"
