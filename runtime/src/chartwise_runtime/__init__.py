"""What every ChartWise service shares: settings, logging, broker and Mongo factories, health app, blobs."""
