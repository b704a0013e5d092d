// Headless Chromium against the live service: GraphiQL with nothing but the service to load
// from, then `fetch` from pages on other origins (CORS). Prints one JSON report.
// Usage: node browser.mjs <service url> <token> <screenshot path> <allowed origin> <other origin>
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';

const [serviceUrl, token, screenshot, allowedOrigin, otherOrigin] = process.argv.slice(2);
const service = new URL(serviceUrl);
const QUERY = '{ viewer { organization { name } role } }';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
const report = { offsite: [], consoleErrors: [] };
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  // Offline: any request leaving this machine (a CDN) fails, and is reported.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (['127.0.0.1', 'localhost'].includes(url.hostname)) return route.continue();
    report.offsite.push(url.href);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') report.consoleErrors.push(message.text());
  });
  await page.setExtraHTTPHeaders({ authorization: `Bearer ${token}` });
  const introspected = page.waitForResponse(
    (response) =>
      response.url().startsWith(`${serviceUrl}/graphql`) &&
      (response.request().postData() ?? '').includes('__schema'),
  );
  await page.goto(`${serviceUrl}/graphql?q=${encodeURIComponent(QUERY)}`);
  const introspection = await introspected;
  report.introspectionStatus = introspection.status();
  report.schemaTypes = ((await introspection.json()).data?.__schema?.types ?? []).length;
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    () => document.querySelector('.result-window')?.textContent?.includes('organization'),
  );
  report.result = JSON.parse(
    await page.evaluate(() =>
      // The result editor's text, as CodeMirror lays it out in lines.
      [...document.querySelectorAll('.result-window .CodeMirror-line')]
        .map((line) => line.textContent.replaceAll('\u00a0', ' '))
        .join('\n'),
    ),
  );
  await page.click('[aria-label="Show Documentation Explorer"]');
  await page.waitForSelector('.graphiql-doc-explorer');
  report.docExplorer = await page.textContent('.graphiql-doc-explorer');
  await page.screenshot({ path: screenshot });

  report.crossOrigin = {};
  for (const origin of [allowedOrigin, otherOrigin]) {
    report.crossOrigin[origin] = await fetchFrom(context, origin);
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));

// A frontend's page, served on this machine at `origin`, posting a query to the service
// with `fetch`: the browser applies CORS as it does for any frontend.
async function fetchFrom(context, origin) {
  const frontend = createServer((_, response) => {
    response.setHeader('content-type', 'text/html');
    response.end('<!doctype html><title>frontend</title>');
  });
  await new Promise((listening) => frontend.listen(new URL(origin).port, listening));
  try {
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    return await page.evaluate(
      async ({ url, key, query }) => {
        try {
          const response = await fetch(url, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ query }),
          });
          return { ok: true, status: response.status, body: await response.json() };
        } catch (error) {
          return { ok: false, error: String(error) };
        }
      },
      { url: `${serviceUrl}/graphql`, key: token, query: QUERY },
    );
  } finally {
    frontend.close();
  }
}
