"""ChartWise scheduler service: owns job records and time: delayed, recurring and retained jobs."""
