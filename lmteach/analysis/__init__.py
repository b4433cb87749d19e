"""Analysis and plots the lessons share: attention maps, per-layer measurements, figures as PNG."""
