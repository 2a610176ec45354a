"""Glue to frameworks and tools users already run, each in its own optional module that the
core never imports: ``fastapi`` (extra ``fastapi``), ``opentelemetry`` (extra ``otel``) and the
pytest plugin ``lexigram_nosql.pytest_plugin`` (extra ``testing``)."""
