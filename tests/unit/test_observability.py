from imgpipe.observability import tracing_disabled


def test_tracing_is_on_only_inside_lambda_unless_switched_off():
    assert tracing_disabled({}) is True
    assert tracing_disabled({"AWS_LAMBDA_FUNCTION_NAME": "imgpipe-resize"}) is False
    assert tracing_disabled({"AWS_LAMBDA_FUNCTION_NAME": "imgpipe-resize", "POWERTOOLS_TRACE_DISABLED": "true"}) is True
    assert tracing_disabled({"AWS_LAMBDA_FUNCTION_NAME": "imgpipe-resize", "AWS_SAM_LOCAL": "true"}) is True
