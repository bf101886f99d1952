from .inference import (InputError, csv_bytes, inference_parser, load_model,
                        png_bytes, unlabelled_test_pipeline)

__all__ = [
    'InputError', 'csv_bytes', 'inference_parser', 'load_model', 'png_bytes',
    'unlabelled_test_pipeline'
]
