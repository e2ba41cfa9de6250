// A bare reference client: N chat requests to the loopback fake server, C in flight, Node's fetch.
// Why: it shows what the server itself allows, so a live-recording ratio can be split into the
// server's share and harness's share. Like harness, a request answered 429 gives its slot back while
// it waits out Retry-After, then tries again.
// Usage: node bench/loopback_client.mjs BASE_URL N C   (prints one JSON line)
const [baseUrl, total, inFlight] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
if (!baseUrl.startsWith("http://127.0.0.1:")) throw new Error("loopback only");

let free = inFlight;
const waiting = [];
const acquire = () => (free > 0 ? (free--, Promise.resolve()) : new Promise((go) => waiting.push(go)));
const release = () => {
  const next = waiting.shift();
  if (next) next();
  else free++;
};
const latencies = [];
let rateLimited = 0;
let failed = 0;

async function one(i) {
  const body = JSON.stringify({
    model: "gpt-4o",
    messages: [{ role: "user", content: `Answer question ${i} about topic ${i % 97}.` }],
    temperature: 0,
    max_tokens: 64,
  });
  for (let attempt = 0; attempt < 5; attempt++) {
    await acquire();
    const start = performance.now();
    let response;
    try {
      response = await fetch(`${baseUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer sk-bench-not-a-real-key" },
        body,
      });
      await response.text();
    } finally {
      release();
    }
    latencies.push(performance.now() - start);
    if (response.status !== 429) {
      if (response.status !== 200) failed++;
      return;
    }
    rateLimited++;
    const wait = Number(response.headers.get("retry-after") || 1);
    await new Promise((go) => setTimeout(go, 1000 * Math.min(wait, 10)));
  }
  failed++;
}

const t0 = performance.now();
await Promise.all(Array.from({ length: total }, (_, i) => one(i)));
const wall = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length;
console.log(JSON.stringify({ wall_s: wall, mean_ms: mean, p50_ms: latencies[latencies.length >> 1],
                             p99_ms: latencies[Math.floor(latencies.length * 0.99)],
                             rate_limited: rateLimited, failed }));
