"""Service quality (PDCA): a member's service requests and complaints with their answers, rating a service while its window is open, and each series' report with its charts and trend table."""
