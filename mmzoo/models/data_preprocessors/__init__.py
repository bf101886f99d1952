from .mri_data_preprocessor import MRIDataPreprocessor

__all__ = ['MRIDataPreprocessor']
