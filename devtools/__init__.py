"""What tests/ and benchmarks/ share, so that neither imports the other: the app started on a free port
(``app_server``) and generated images (``synthetic``). Not part of the fer_model package."""
