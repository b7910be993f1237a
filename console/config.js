// Where the API lives. Empty: the console's own origin (the local stack serves both).
// Hosted on CloudFront, the deployment writes the stack's ApiUrl here (see docs/console.md).
window.CONSOLE_CONFIG = { apiBaseUrl: "" };
