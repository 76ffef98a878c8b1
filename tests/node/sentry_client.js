// Sends with the official @sentry/node: a session (release health), one exception and one
// warning message, then closes. Prints the event ids as JSON.
// usage: node sentry_client.js DSN
const Sentry = require("@sentry/node");

Sentry.init({
  dsn: process.argv[2],
  release: "orders@1.9.0",
  environment: "production",
  sendClientReports: false,
});
Sentry.setTag("region", "eu-west-1");
Sentry.setUser({ id: "u-1842", email: "ana@example.com" });

function parseQuantity(q) {
  if (q <= 0) throw new TypeError("quantity must be positive, got " + q);
  return q;
}

let exception;
try {
  parseQuantity(0);
} catch (e) {
  exception = Sentry.captureException(e);
}
const message = Sentry.captureMessage("inventory sync lagging by 312 s", "warning");

Sentry.close(10000).then((ok) => {
  console.log(JSON.stringify({ exception, message, flushed: ok }));
  process.exit(ok ? 0 : 1);
});
