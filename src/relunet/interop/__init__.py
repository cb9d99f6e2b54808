"""The ecosystem: scikit-learn estimators and ONNX export (uses every layer below the CLI)."""
