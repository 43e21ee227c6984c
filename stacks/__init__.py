"""The AWS deployment of imgpipe: one CDK stack (``pipeline_stack.PipelineStack``) composed of one
construct per concern.  Names, handlers, sizes and settings come from ``imgpipe.config``."""
