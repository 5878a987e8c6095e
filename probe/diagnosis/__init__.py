"""The pure diagnosis core: reply codes, the data catalogue, the classifier and explain. No I/O."""
