"""ChartWise journal service: owns the trade journal."""
