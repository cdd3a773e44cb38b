"""ChartWise analysis service: owns chart analyses: their lifecycle, the vision model calls and their results."""
