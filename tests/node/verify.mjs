// Verifies signed webhook requests with the official Standard Webhooks library, as a Node receiver would.
// Input (stdin): [{"name", "secret", "body", "headers"}]; output (stdout): [{"name", "verified", "type", "error"}].
import { Webhook } from "standardwebhooks";

// A whsec_ secret is what the library's constructor expects (it base64-decodes what follows the prefix).
// Any other secret is keyed with its UTF-8 bytes: pass them with format "raw". (Given a string with "raw", the
// library keeps one byte per UTF-16 unit, which is wrong for a secret with non-ASCII characters.)
function receiverFor(secret) {
  return secret.startsWith("whsec_")
    ? new Webhook(secret)
    : new Webhook(new TextEncoder().encode(secret), { format: "raw" });
}

const requests = JSON.parse(await new Response(process.stdin).text());
const results = requests.map(({ name, secret, body, headers }) => {
  try {
    const event = receiverFor(secret).verify(Buffer.from(body, "utf8"), headers);
    return { name, verified: true, type: event.type, error: null };
  } catch (error) {
    return { name, verified: false, type: null, error: String(error.message) };
  }
});
process.stdout.write(JSON.stringify(results));
