"""The conformance kit: a pytest plugin with one contract suite per seam."""
