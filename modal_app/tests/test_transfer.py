"""Uploads through a multipart plan split the file into equal ordered parts; the app module defines the
Modal functions."""

import warnings

from modal_app.service.contract import MultipartUpload, Part
from modal_app.service.transfer import TransferError, upload
from modal_app.tests.receiver import Receiver


def test_multipart_splits_into_equal_parts_in_order(tmp_path):
    edge = Receiver(b"", "whsec_" + "A" * 32)
    try:
        data = bytes(range(256)) * 100  # 25,600 bytes → 3 parts of 10,000
        path = tmp_path / "v.mp4"
        path.write_bytes(data)
        plan = MultipartUpload.model_construct(
            type="multipart", part_size=10_000, complete_url=f"{edge.url}/upload/complete",
            parts=[Part.model_construct(part_number=n, url=f"{edge.url}/upload/part/{n}") for n in (3, 1, 2, 4)],
        )
        upload(str(path), plan)
        assert edge.completed == data
        assert sorted(len(p) for p in edge.parts.values()) == [5_600, 10_000, 10_000]
        small = MultipartUpload.model_construct(type="multipart", part_size=1_000, complete_url=plan.complete_url,
                                                parts=plan.parts)
        try:
            upload(str(path), small)
            raise AssertionError("expected output_too_large")
        except TransferError as e:
            assert e.code == "output_too_large"
    finally:
        edge.close()


def test_modal_app_defines_the_coordinator_the_gpu_chunks_and_the_web_app():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import modal_app.app as deployed

        assert deployed.render_chunk._spec_.gpus == "L4", "chunks render on a GPU"
        assert not deployed.render_job._spec_.gpus, "the coordinator holds no GPU while it waits"
        assert (deployed.MAX_CONTAINERS, deployed.CHUNK_SECONDS) == (8, 30.0)
        assert "web" in deployed.app.registered_web_endpoints
        assert deployed.app.name == "ethereal-flame-render"
