"""Data: training corpora (read by the scan and the language model), the samples of each
noise-study task, and the builders that make datasets from source code with tree-sitter."""
