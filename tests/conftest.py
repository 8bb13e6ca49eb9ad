import pytest


@pytest.fixture(scope="session")
def ray_session():
    """One Ray for every test that needs it (ray.init costs about 8 s here); the sweep
    launcher and the benches reuse a running session."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
