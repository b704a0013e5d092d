// The graphql-http server audit against a running service; prints one JSON array of results.
// Usage: node audit.mjs <url> <bearer token>
import { auditServer } from 'graphql-http';

const [url, token] = process.argv.slice(2);

// Every request carries the key (the service answers nothing without one) and waits for the
// one before it: the audit fires all its requests at once, and a key's concurrent requests
// are capped by the service (429), which is a limit working, not an audit finding.
let previous = Promise.resolve();
function authorisedFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  const sent = previous.then(() => fetch(input, { ...init, headers }));
  previous = sent.then(
    (response) => response.clone().arrayBuffer(),
    () => undefined,
  );
  return sent;
}

const results = await auditServer({ url, fetchFn: authorisedFetch });
const report = await Promise.all(
  results.map(async (result) => ({
    id: result.id,
    name: result.name,
    status: result.status,
    reason: result.reason ?? null,
    responseStatus: result.response?.status ?? null,
    responseBody: await bodyOf(result.response),
  })),
);
process.stdout.write(JSON.stringify(report));

async function bodyOf(response) {
  try {
    return response ? (await response.clone().text()).slice(0, 500) : null;
  } catch {
    return null; // already read by the audit itself
  }
}
