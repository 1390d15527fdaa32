// The classic recipe's approval function, as a Lambda would start it: load the SDK,
// make the client, then loop on the Runtime API (a tiny stand-in for the runtime client).
const http = require('http');
const { SFNClient, SendTaskSuccessCommand } = require('@aws-sdk/client-sfn');
const sfn = new SFNClient({ endpoint: process.env.SFN_ENDPOINT, region: process.env.AWS_REGION });

async function handler(event) {
  const q = event.queryStringParameters || {};
  await sfn.send(new SendTaskSuccessCommand({
    taskToken: q.taskToken,
    output: JSON.stringify({ Status: 'Approved! Task approved by ' + q.email }),
  }));
  return { statusCode: 200, body: 'Approved!' };
}

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, method, headers: { 'content-type': 'application/json' } }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ headers: res.headers, body: data }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

(async () => {
  for (;;) {
    const next = await call('GET', '/2018-06-01/runtime/invocation/next');
    const id = next.headers['lambda-runtime-aws-request-id'];
    try {
      const out = await handler(JSON.parse(next.body));
      await call('POST', `/2018-06-01/runtime/invocation/${id}/response`, JSON.stringify(out));
    } catch (e) {
      await call('POST', `/2018-06-01/runtime/invocation/${id}/error`, JSON.stringify({ errorMessage: String(e) }));
    }
  }
})();
