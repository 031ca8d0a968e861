// Drives Alibaba Cloud's Node.js SDK (ali-oss) against `ossmount server`
// through the protocol points the Go SDK tests cover, checks what OSS
// documents for each answer, and prints as its last line (JSON) what it saw
// of every object it left behind, for the Go test to compare with the Go
// SDK's view. Configuration comes from the environment (see alioss_test.go).
'use strict';

const OSS = require('ali-oss');
const assert = require('assert/strict');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');

const env = process.env;
const prefix = env.PREFIX;

function options(extra) {
  const o = {
    accessKeyId: env.OSS_ACCESS_KEY_ID,
    accessKeySecret: env.OSS_ACCESS_KEY_SECRET,
    bucket: env.OSS_BUCKET,
    endpoint: env.OSS_ENDPOINT,
    region: 'oss-cn-hangzhou',
    sldEnable: env.MODE === 'path', // path-style: /BUCKET/KEY (ali-oss puts the bucket in the path only so)
    authorizationV4: env.SIG === 'v4',
    retryMax: 0,
    timeout: 30000,
  };
  if (env.OSS_STS_TOKEN) {
    o.stsToken = env.OSS_STS_TOKEN;
    o.refreshSTSToken = async () => ({
      accessKeyId: o.accessKeyId,
      accessKeySecret: o.accessKeySecret,
      stsToken: o.stsToken,
    });
  }
  if (env.MODE === 'vhost') {
    // BUCKET.DOMAIN is not in DNS here: every name is the loopback server.
    o.agent = new http.Agent({
      keepAlive: true,
      lookup: (host, opts, cb) =>
        opts && opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4),
    });
  }
  return Object.assign(o, extra);
}

const client = new OSS(options());
const md5 = (buf) => crypto.createHash('md5').update(buf).digest();
const etagOf = (buf) => '"' + md5(buf).toString('hex').toUpperCase() + '"';

// OSS's error: code, status, request id, host id and EC from the body.
async function wantError(what, code, status, fn) {
  try {
    await fn();
  } catch (err) {
    assert.equal(err.code, code, `${what}: code ${err.code}, want ${code} (${err.message})`);
    assert.equal(err.status, status, `${what}: status ${err.status}`);
    assert.match(err.requestId || '', /^[0-9A-F]{24}$/, `${what}: request id ${err.requestId}`);
    if (err.status !== 404 || !what.startsWith('head')) {
      // A HEAD answer has no body: no HostId or EC to parse.
      assert.ok(err.hostId, `${what}: no HostId`);
      assert.match(err.ecCode || '', /^\d{4}-\d{8}$/, `${what}: EC ${err.ecCode}`);
    }
    return err;
  }
  assert.fail(`${what}: succeeded, want ${code}`);
}

// Every LastModified OSS writes is whole seconds: "2006-01-02T15:04:05.000Z".
const wholeSeconds = (what, s) => assert.match(s, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/, `${what}: LastModified ${s}`);

const steps = [];
const step = (name, fn) => steps.push([name, fn]);

const small = Buffer.from('hello from ali-oss\n');
const smallKey = prefix + 'small.txt';

step('put with metadata', async () => {
  const r = await client.put(smallKey, small, { meta: { color: 'blue', 'two-words': 'a b' }, headers: { 'Content-Type': 'text/plain' } });
  assert.equal(r.res.status, 200);
  assert.equal(r.res.headers.etag, etagOf(small));
  assert.match(r.res.headers['x-oss-hash-crc64ecma'], /^\d+$/);
  assert.equal(r.res.headers['content-md5'], md5(small).toString('base64'));
});

step('head', async () => {
  const r = await client.head(smallKey);
  const h = r.res.headers;
  assert.equal(r.status, 200);
  assert.deepEqual(r.meta, { color: 'blue', 'two-words': 'a b' });
  assert.equal(h['content-length'], String(small.length));
  assert.equal(h['content-type'], 'text/plain');
  assert.equal(h.etag, etagOf(small));
  assert.equal(h['x-oss-object-type'], 'Normal');
  assert.equal(h['x-oss-storage-class'], 'Standard');
  assert.match(h['x-oss-hash-crc64ecma'], /^\d+$/);
  assert.match(h['last-modified'], /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/);
  assert.match(h['x-oss-request-id'], /^[0-9A-F]{24}$/);
});

step('get whole and ranged', async () => {
  const whole = await client.get(smallKey);
  assert.deepEqual(whole.content, small);
  const part = await client.get(smallKey, { headers: { Range: 'bytes=1-4' } });
  assert.equal(part.res.status, 206);
  assert.deepEqual(part.content, small.subarray(1, 5));
  assert.equal(part.res.headers['content-range'], `bytes 1-4/${small.length}`);
  const tail = await client.get(smallKey, { headers: { Range: 'bytes=-3' } });
  assert.deepEqual(tail.content, small.subarray(small.length - 3));
});

const listNames = ['a', 'b/1', 'b/2', 'c d', 'e+f&g=h', 'z', 'é', '中文/x'];
step('put keys to list', async () => {
  for (const n of listNames) {
    await client.put(prefix + 'list/' + n, Buffer.from(n));
  }
});

// What a delimited listing of list/ must show, in OSS's (byte) order.
const wantObjects = ['a', 'c d', 'e+f&g=h', 'z', 'é'].map((n) => prefix + 'list/' + n);
const wantPrefixes = ['b/', '中文/'].map((n) => prefix + 'list/' + n);
const byBytes = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));

step('list v1 paged, delimited', async () => {
  const objects = [];
  const prefixes = [];
  let marker = '';
  for (let page = 0; ; page++) {
    assert.ok(page < 10, 'too many pages');
    // No empty marker: ali-oss signs "marker=" for it under V4, where
    // OSS signs an empty parameter bare, as ali-oss does "append".
    const q = { prefix: prefix + 'list/', delimiter: '/', 'max-keys': 2 };
    if (marker) q.marker = marker;
    const r = await client.list(q);
    const n = (r.objects || []).length + (r.prefixes || []).length;
    assert.ok(n <= 2, `a page of ${n} entries for max-keys 2`);
    for (const o of r.objects || []) {
      objects.push(o.name);
      wholeSeconds(o.name, o.lastModified);
      assert.equal(o.storageClass, 'Standard');
      assert.equal(o.type, 'Normal');
      assert.ok(o.owner.id, 'v1 listings name an owner');
      assert.equal(o.etag, etagOf(Buffer.from(o.name.slice((prefix + 'list/').length))));
    }
    prefixes.push(...(r.prefixes || []));
    if (!r.isTruncated) break;
    assert.ok(r.nextMarker, 'truncated without NextMarker');
    marker = r.nextMarker;
  }
  assert.deepEqual(objects, wantObjects);
  assert.deepEqual(prefixes, wantPrefixes);
  assert.deepEqual([...objects].sort(byBytes), objects);
});

step('list v1 url-encoded', async () => {
  const r = await client.list({ prefix: prefix + 'list/', delimiter: '/', 'encoding-type': 'url' });
  const names = r.objects.map((o) => decodeURIComponent(o.name));
  assert.deepEqual(names, wantObjects);
  assert.deepEqual(r.prefixes.map(decodeURIComponent), wantPrefixes);
  assert.ok(r.objects.some((o) => o.name !== decodeURIComponent(o.name)), 'nothing was encoded');
});

step('list v2 paged, delimited, with owner', async () => {
  const objects = [];
  const prefixes = [];
  let token = '';
  for (let page = 0; ; page++) {
    assert.ok(page < 10, 'too many pages');
    const q = { prefix: prefix + 'list/', delimiter: '/', 'max-keys': 3, 'fetch-owner': true };
    if (token) q['continuation-token'] = token;
    const r = await client.listV2(q);
    assert.equal(r.keyCount, (r.objects || []).length + (r.prefixes || []).length);
    for (const o of r.objects || []) {
      objects.push(o.name);
      wholeSeconds(o.name, o.lastModified);
      assert.ok(o.owner && o.owner.id, 'fetch-owner: an owner');
    }
    prefixes.push(...(r.prefixes || []));
    if (!r.isTruncated) break;
    token = r.nextContinuationToken;
    assert.ok(token, 'truncated without NextContinuationToken');
  }
  assert.deepEqual(objects, wantObjects);
  assert.deepEqual(prefixes, wantPrefixes);
  const after = await client.listV2({ prefix: prefix + 'list/', 'start-after': prefix + 'list/e+f&g=h' });
  assert.deepEqual(after.objects.map((o) => o.name), ['z', 'é', '中文/x'].map((n) => prefix + 'list/' + n));
  assert.equal(after.objects[0].owner, null, 'no owner without fetch-owner');
});

step('copy keeps data and metadata', async () => {
  const r = await client.copy(prefix + 'copy.txt', smallKey);
  assert.equal(r.res.status, 200);
  assert.equal(r.data.etag, etagOf(small));
  wholeSeconds('copy result', r.data.lastModified);
  const h = await client.head(prefix + 'copy.txt');
  assert.deepEqual(h.meta, { color: 'blue', 'two-words': 'a b' });
  const replaced = await client.copy(prefix + 'copy2.txt', smallKey, { meta: { color: 'red' } });
  assert.equal(replaced.res.status, 200);
  const h2 = await client.head(prefix + 'copy2.txt');
  assert.deepEqual(h2.meta, { color: 'red' });
});

const appendKey = prefix + 'appendable';
step('append', async () => {
  const first = await client.append(appendKey, Buffer.from('abc'));
  assert.equal(first.nextAppendPosition, '3');
  const second = await client.append(appendKey, Buffer.from('defg'), { position: first.nextAppendPosition });
  assert.equal(second.nextAppendPosition, '7');
  const h = await client.head(appendKey);
  assert.equal(h.res.headers['x-oss-object-type'], 'Appendable');
  assert.equal(h.res.headers['x-oss-next-append-position'], '7');
  await wantError('append at a wrong position', 'PositionNotEqualToLength', 409, () =>
    client.append(appendKey, Buffer.from('x'), { position: '2' }));
  assert.deepEqual((await client.get(appendKey)).content, Buffer.from('abcdefg'));
});

const mpKey = prefix + 'multipart.bin';
const mpData = crypto.randomBytes(250 * 1024 + 7);
step('multipart with parts listed', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'alioss-')), 'data');
  fs.writeFileSync(file, mpData);
  const { uploadId } = await client.initMultipartUpload(mpKey);
  const cuts = [0, 100 * 1024, 200 * 1024, mpData.length];
  const parts = [];
  for (let i = 0; i < 3; i++) {
    const r = await client.uploadPart(mpKey, uploadId, i + 1, file, cuts[i], cuts[i + 1]);
    assert.equal(r.etag, etagOf(mpData.subarray(cuts[i], cuts[i + 1])));
    parts.push({ number: i + 1, etag: r.etag });
  }
  const listed = await client.listParts(mpKey, uploadId);
  assert.deepEqual(listed.parts.map((p) => [Number(p.PartNumber), p.ETag, Number(p.Size)]),
    parts.map((p, i) => [p.number, p.etag, cuts[i + 1] - cuts[i]]));
  listed.parts.forEach((p) => wholeSeconds('part ' + p.PartNumber, p.LastModified));
  const done = await client.completeMultipartUpload(mpKey, uploadId, parts);
  assert.equal(done.res.status, 200);
  const h = await client.head(mpKey);
  assert.equal(h.res.headers['x-oss-object-type'], 'Multipart');
  assert.match(h.res.headers.etag, /^"[0-9A-F]{32}-3"$/);
  assert.deepEqual((await client.get(mpKey)).content, mpData);
  fs.rmSync(path.dirname(file), { recursive: true });
});

step('multipart aborted', async () => {
  const key = prefix + 'aborted.bin';
  const { uploadId } = await client.initMultipartUpload(key);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'alioss-')), 'data');
  fs.writeFileSync(file, Buffer.alloc(1024, 7));
  await client.uploadPart(key, uploadId, 1, file, 0, 1024);
  const ups = await client.listUploads({ prefix: key });
  assert.deepEqual(ups.uploads.map((u) => [u.name, u.uploadId]), [[key, uploadId]]);
  await client.abortMultipartUpload(key, uploadId);
  const after = await client.listUploads({ prefix: key });
  assert.equal(after.uploads.length, 0);
  await wantError('list parts of an aborted upload', 'NoSuchUpload', 404, () => client.listParts(key, uploadId));
  await wantError('get what was never completed', 'NoSuchKey', 404, () => client.get(key));
  fs.rmSync(path.dirname(file), { recursive: true });
});

step('batch delete', async () => {
  const names = listNames.map((n) => prefix + 'list/' + n);
  const r = await client.deleteMulti([...names, prefix + 'list/never-there']);
  assert.deepEqual([...r.deleted.map((d) => d.Key)].sort(byBytes), [...names, prefix + 'list/never-there'].sort(byBytes));
  const quiet = await client.deleteMulti([prefix + 'copy2.txt'], { quiet: true });
  assert.deepEqual(quiet.deleted, []);
  const left = await client.listV2({ prefix: prefix + 'list/' });
  assert.equal((left.objects || []).length, 0);
});

step('delete and errors', async () => {
  const key = prefix + 'gone';
  await client.put(key, Buffer.from('x'));
  const d = await client.delete(key);
  assert.equal(d.res.status, 204);
  await wantError('get a deleted key', 'NoSuchKey', 404, () => client.get(key));
  const missingHead = await wantError('head a deleted key', 'NoSuchKey', 404, () => client.head(key));
  assert.ok(missingHead);
  const wrong = new OSS(options({ accessKeySecret: 'not-the-secret' }));
  await wantError('a wrong secret', 'SignatureDoesNotMatch', 403, () => wrong.get(smallKey));
  const stranger = new OSS(options({ accessKeyId: 'no-such-key-id' }));
  await wantError('an unknown key id', 'InvalidAccessKeyId', 403, () => stranger.get(smallKey));
  const nobucket = new OSS(options({ bucket: 'no-such-bucket-here' }));
  await wantError('a missing bucket', 'NoSuchBucket', 404, () => nobucket.get(smallKey));
});

async function main() {
  for (const [name, fn] of steps) {
    try {
      await fn();
    } catch (err) {
      console.error(`step "${name}" failed: ${err.stack || err}`);
      process.exit(1);
    }
  }
  // What ali-oss sees of what is left, for the Go SDK to see the same.
  const seen = [];
  for (const key of [smallKey, prefix + 'copy.txt', appendKey, mpKey]) {
    const h = await client.head(key);
    const body = (await client.get(key)).content;
    seen.push({
      key,
      size: Number(h.res.headers['content-length']),
      etag: h.res.headers.etag,
      type: h.res.headers['x-oss-object-type'],
      lastModified: h.res.headers['last-modified'],
      crc64: h.res.headers['x-oss-hash-crc64ecma'],
      meta: h.meta || {},
      md5: md5(body).toString('hex'),
    });
  }
  console.log(JSON.stringify(seen));
}

main().catch((err) => {
  console.error(err.stack || err);
  process.exit(1);
});
