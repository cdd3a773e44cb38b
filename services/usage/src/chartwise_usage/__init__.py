"""ChartWise usage service: meters analyses against plans, reserves quota, keeps Stripe plan state."""
