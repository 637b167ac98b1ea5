// Consentcrawl lookup page: "is my site in this dataset, and why?" answered from the published files.
// No third-party code and no request outside this dataset folder. Licence: Apache-2.0 (see LICENSES.txt).
//
// Query parsing is a port of pipeline/manifest/targets.py (parse_target, url_key) and
// pipeline/host.py (url_host, canonical_host, registrable_domain, is_ip), with Python 3.11's
// urllib.parse.urlsplit rules, so that the page and `consentcrawl lookup` read a query the same way.
// tests/test_lookup_page.py checks both on the same queries.
"use strict";

(function () {
  // ---------------------------------------------------------------------------------------------
  // Python string helpers
  // ---------------------------------------------------------------------------------------------
  // str.isspace() / str.strip(): whitespace per Python (not JS's \s, which differs on U+FEFF, U+001C-1F)
  const PY_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006" +
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";
  const isPySpace = (ch) => PY_SPACE.includes(ch);
  function pyStrip(s) {
    let a = 0, b = s.length;
    while (a < b && isPySpace(s[a])) a++;
    while (b > a && isPySpace(s[b - 1])) b--;
    return s.slice(a, b);
  }
  function pyRepr(s) {
    const q = s.includes("'") && !s.includes('"') ? '"' : "'";
    let out = "";
    for (const ch of s) {
      if (ch === "\\") out += "\\\\";
      else if (ch === q) out += "\\" + q;
      else if (ch === "\n") out += "\\n";
      else if (ch === "\r") out += "\\r";
      else if (ch === "\t") out += "\\t";
      else out += ch;
    }
    return q + out + q;
  }
  function partition(s, sep) {
    const i = s.indexOf(sep);
    return i < 0 ? [s, "", ""] : [s.slice(0, i), sep, s.slice(i + sep.length)];
  }
  function rpartition(s, sep) {
    const i = s.lastIndexOf(sep);
    return i < 0 ? ["", "", s] : [s.slice(0, i), sep, s.slice(i + sep.length)];
  }
  const isAscii = (s) => /^[\x00-\x7f]*$/.test(s);

  // ---------------------------------------------------------------------------------------------
  // ipaddress (Python 3.11): strict IPv4, IPv6 with optional scope id, RFC 5952-style compression
  // ---------------------------------------------------------------------------------------------
  function parseIPv4(s) {
    const parts = s.split(".");
    if (parts.length !== 4) return null;
    const out = [];
    for (const p of parts) {
      if (!/^[0-9]{1,3}$/.test(p)) return null;
      if (p !== "0" && p[0] === "0") return null; // leading zeros are not permitted
      const v = parseInt(p, 10);
      if (v > 255) return null;
      out.push(v);
    }
    return out;
  }
  // -> {hextets: [8 ints], scope: string|null} or null
  function parseIPv6(text) {
    let [addr, sep, scope] = partition(text, "%");
    if (sep && (!scope || scope.includes("%"))) return null;
    if (!addr) return null;
    let parts = addr.split(":");
    if (parts.length < 3) return null;
    if (parts[parts.length - 1].includes(".")) {
      const v4 = parseIPv4(parts.pop());
      if (!v4) return null;
      parts.push(((v4[0] << 8) | v4[1]).toString(16), ((v4[2] << 8) | v4[3]).toString(16));
    }
    if (parts.length > 9) return null;
    let skip = null;
    for (let i = 1; i < parts.length - 1; i++) {
      if (!parts[i]) {
        if (skip !== null) return null;
        skip = i;
      }
    }
    let hi, lo, skipped;
    if (skip !== null) {
      hi = skip;
      lo = parts.length - skip - 1;
      if (!parts[0]) { hi -= 1; if (hi) return null; }
      if (!parts[parts.length - 1]) { lo -= 1; if (lo) return null; }
      skipped = 8 - (hi + lo);
      if (skipped < 1) return null;
    } else {
      if (parts.length !== 8 || !parts[0] || !parts[parts.length - 1]) return null;
      hi = parts.length; lo = 0; skipped = 0;
    }
    const hex = (h) => (/^[0-9a-fA-F]{1,4}$/.test(h) ? parseInt(h, 16) : null);
    const out = [];
    for (let i = 0; i < hi; i++) { const v = hex(parts[i]); if (v === null) return null; out.push(v); }
    for (let i = 0; i < skipped; i++) out.push(0);
    for (let i = lo; i > 0; i--) { const v = hex(parts[parts.length - i]); if (v === null) return null; out.push(v); }
    return { hextets: out, scope: sep ? scope : null };
  }
  function compressIPv6(h) {
    const hex = h.map((x) => x.toString(16));
    let bestStart = -1, bestLen = 0, start = -1, len = 0;
    for (let i = 0; i < hex.length; i++) {
      if (hex[i] === "0") {
        len += 1;
        if (start === -1) start = i;
        if (len > bestLen) { bestLen = len; bestStart = start; }
      } else { len = 0; start = -1; }
    }
    if (bestLen > 1) {
      const end = bestStart + bestLen;
      const mid = end === hex.length ? [""] : [];
      hex.splice(bestStart, bestLen, "", ...mid);
      if (bestStart === 0) hex.unshift("");
    }
    return hex.join(":");
  }
  function isIp(host) {
    if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
    return parseIPv4(host) !== null || parseIPv6(host) !== null;
  }

  // ---------------------------------------------------------------------------------------------
  // urllib.parse.urlsplit (Python 3.11.4+ behaviour)
  // ---------------------------------------------------------------------------------------------
  function urlsplit(url) {
    url = url.replace(/^[\x00-\x20]+/, "").replace(/[\t\r\n]/g, "");
    let scheme = "", netloc = "", query = "", fragment = "";
    const i = url.indexOf(":");
    if (i > 0 && /^[A-Za-z][A-Za-z0-9+.-]*$/.test(url.slice(0, i))) {
      scheme = url.slice(0, i).toLowerCase();
      url = url.slice(i + 1);
    }
    if (url.slice(0, 2) === "//") {
      let delim = url.length;
      for (const c of "/?#") { const w = url.indexOf(c, 2); if (w >= 0) delim = Math.min(delim, w); }
      netloc = url.slice(2, delim);
      url = url.slice(delim);
      if ((netloc.includes("[") && !netloc.includes("]")) || (netloc.includes("]") && !netloc.includes("["))) {
        throw new Error("Invalid IPv6 URL");
      }
      if (netloc.includes("[") && netloc.includes("]")) {
        const bracketed = partition(partition(netloc, "[")[2], "]")[0];
        if (bracketed.startsWith("v")) {
          if (!/^v[a-fA-F0-9]+\..+$/.test(bracketed)) throw new Error("IPvFuture address is invalid");
        } else if (parseIPv4(bracketed)) {
          throw new Error("An IPv4 address cannot be in brackets");
        } else if (!parseIPv6(bracketed)) {
          throw new Error(`${pyRepr(bracketed)} does not appear to be an IPv4 or IPv6 address`);
        }
      }
    }
    if (url.includes("#")) [url, , fragment] = partition(url, "#");
    if (url.includes("?")) [url, , query] = partition(url, "?");
    if (netloc && !isAscii(netloc)) { // characters like U+2100 that expand to 'a/c' under NFKC
      const n = netloc.replace(/[@:#?]/g, "");
      const n2 = n.normalize("NFKC");
      if (n !== n2 && /[/?#@:]/.test(n2)) {
        throw new Error(`netloc '${netloc}' contains invalid characters under NFKC normalization`);
      }
    }
    return { scheme, netloc, path: url, query, fragment };
  }
  function hostinfo(netloc) {
    const hostinfo = rpartition(netloc, "@")[2];
    const [, open, bracketed] = partition(hostinfo, "[");
    let hostname, port;
    if (open) {
      let rest;
      [hostname, , rest] = partition(bracketed, "]");
      port = partition(rest, ":")[2];
    } else {
      [hostname, , port] = partition(hostinfo, ":");
    }
    return [hostname, port || null];
  }
  function splitHostname(parts) {
    const h = hostinfo(parts.netloc)[0];
    if (!h) return null;
    const [a, pct, zone] = partition(h, "%");
    return a.toLowerCase() + pct + zone;
  }
  function splitPort(parts) {
    const p = hostinfo(parts.netloc)[1];
    if (p === null) return null;
    if (!/^[0-9]+$/.test(p)) throw new Error(`Port could not be cast to integer value as ${pyRepr(p)}`);
    const v = parseInt(p, 10);
    if (!(v >= 0 && v <= 65535)) throw new Error("Port out of range 0-65535");
    return v;
  }

  // ---------------------------------------------------------------------------------------------
  // pipeline/host.py
  // ---------------------------------------------------------------------------------------------
  const DNS_NAME = /^[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*$/;
  // Python's "idna" codec is IDNA 2003; the browser's URL parser is UTS #46 non-transitional. Mapping
  // the four deviation characters first (as IDNA 2003 nameprep does) makes them agree on them.
  function idnaToAscii(host) {
    const mapped = host.replace(/\u00df/g, "ss").replace(/\u03c2/g, "\u03c3").replace(/[\u200c\u200d]/g, "");
    try {
      const u = new URL("http://" + mapped + "/");
      return u.hostname;
    } catch (e) {
      return "";
    }
  }
  function canonicalHost(name, bracketed) {
    if (bracketed) {
      const ip = parseIPv6(name);
      if (!ip || ip.scope !== null) return "";
      const h = ip.hextets;
      if (h.slice(0, 5).every((x) => x === 0) && h[5] === 0xffff) {
        return `::ffff:${h[6] >> 8}.${h[6] & 255}.${h[7] >> 8}.${h[7] & 255}`;
      }
      return compressIPv6(h);
    }
    let host = name.replace(/\.+$/, "").toLowerCase();
    if (!isAscii(host)) {
      host = idnaToAscii(host);
      if (!host) return "";
    }
    if (host.length > 253 || !DNS_NAME.test(host)) return "";
    return host;
  }
  function urlHost(url) {
    let parts, name;
    try {
      parts = urlsplit(pyStrip(url));
      name = splitHostname(parts) || "";
    } catch (e) {
      return "";
    }
    if (!name) return "";
    return canonicalHost(name, rpartition(parts.netloc, "@")[2].startsWith("["));
  }
  const netlocHost = (host) => (host.includes(":") ? `[${host}]` : host);

  // Public suffix rules (ICANN section, as tldextract uses them), labels in punycode: a trie.
  let PSL = null;
  function buildPsl(rules) {
    const root = { m: new Map(), end: false };
    for (const rule of rules) {
      let node = root;
      for (const label of rule.split(".").reverse()) {
        if (!node.m.has(label)) node.m.set(label, { m: new Map(), end: false });
        node = node.m.get(label);
      }
      node.end = true;
    }
    return root;
  }
  // tldextract's suffix_index, then top_domain_under_public_suffix; "" when there is none
  function topDomain(host) {
    const labels = host.split(".");
    let node = PSL, suffixIdx = labels.length, labelIdx = labels.length, found = null;
    for (let i = labels.length - 1; i >= 0; i--) {
      const label = labels[i].toLowerCase();
      if (node.m.has(label)) {
        labelIdx -= 1;
        node = node.m.get(label);
        if (node.end) suffixIdx = labelIdx;
        continue;
      }
      if (node.m.has("*")) {
        found = node.m.has("!" + label) ? labelIdx : labelIdx - 1;
      }
      break;
    }
    if (found === null) {
      if (suffixIdx === labels.length) return "";
      found = suffixIdx;
    }
    const domain = found > 0 ? labels[found - 1] : "";
    const suffix = labels.slice(found).join("."); // a negative index counts from the end, as in Python
    return domain && suffix ? `${domain}.${suffix}` : "";
  }
  function registrableDomain(host) {
    if (host.includes(":")) return host;
    return topDomain(host) || host;
  }

  // ---------------------------------------------------------------------------------------------
  // pipeline/manifest/targets.py
  // ---------------------------------------------------------------------------------------------
  const HOSTNAME = /^(?=.{1,253}$)(?!-)[a-z0-9_-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9_-]{1,63}(?<!-))+$/;
  function validHost(host) {
    if (isIp(host)) return true;
    const digits = host.replace(/\./g, "");
    return HOSTNAME.test(host) && !(digits.length > 0 && /^[0-9]+$/.test(digits));
  }
  function urlKey(url) {
    const parts = urlsplit(pyStrip(url));
    const host = urlHost(url);
    let port;
    try { port = splitPort(parts); } catch (e) { port = null; }
    const netloc = port === null || port === 80 || port === 443 ? netlocHost(host) : `${netlocHost(host)}:${port}`;
    return netloc + (parts.path || "/") + (parts.query ? `?${parts.query}` : "");
  }
  class QueryError extends Error {}
  function parseTarget(text, kind = "auto") {
    let raw = pyStrip(text);
    if (!raw) throw new QueryError("empty");
    for (const ch of raw) if (isPySpace(ch)) throw new QueryError("contains whitespace");
    const [prefix, sep, rest] = partition(raw, ":");
    if (sep && ["url", "host", "domain"].includes(prefix.toLowerCase()) && !rest.startsWith("//")) {
      kind = prefix.toLowerCase();
      raw = rest;
    }
    const looksLikeUrl = raw.includes("://") || raw.includes("/");
    const shown = pyStrip(text);
    if (kind === "url" || (kind === "auto" && looksLikeUrl)) {
      const url = raw.includes("://") ? raw : `http://${raw}`;
      let scheme;
      try { scheme = urlsplit(url).scheme.toLowerCase(); } catch (e) { throw new QueryError(e.message); }
      if (scheme !== "http" && scheme !== "https") throw new QueryError(`not an http(s) URL (scheme ${pyRepr(scheme)})`);
      try { splitPort(urlsplit(url)); } catch (e) { throw new QueryError(`bad port (${e.message})`); }
      const host = urlHost(url);
      if (!host || !validHost(host)) throw new QueryError(`no valid host in URL (got ${pyRepr(host)})`);
      return { kind: "url", text: shown, host, domain: registrableDomain(host), url_key: urlKey(url) };
    }
    if (!["auto", "host", "domain"].includes(kind)) throw new QueryError(`unknown kind ${pyRepr(kind)}`);
    const bare = raw.startsWith("*.") ? raw.slice(2) : raw;
    const host = urlHost(bare.includes(":") && isIp(bare) ? `http://[${bare}]` : `http://${bare}`);
    if (!host || !validHost(host)) throw new QueryError(`${pyRepr(raw)} is not a valid URL, host name or domain`);
    const domain = registrableDomain(host);
    if (!isIp(host) && registrableDomain(`x.${host}`) === `x.${host}`) {
      throw new QueryError(`${pyRepr(host)} is a public suffix (or has no known one), not a site`);
    }
    if (kind === "domain" && domain !== host) {
      throw new QueryError(`${pyRepr(host)} is not a registrable domain (its domain is ${pyRepr(domain)})`);
    }
    if (kind === "auto") kind = domain === host && !isIp(host) ? "domain" : "host";
    return { kind, text: shown, host, domain, url_key: "" };
  }

  // ---------------------------------------------------------------------------------------------
  // Hashes: FNV-1a 32 (bucket choice, same as pipeline/manifest/site.py) and SHA-256 (to check each
  // index file against manifest.json; crypto.subtle is missing on plain-http hosts, so it is here)
  // ---------------------------------------------------------------------------------------------
  const utf8 = (s) => new TextEncoder().encode(s);
  function fnv1a32(s) {
    let h = 0x811c9dc5;
    for (const b of utf8(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    return h >>> 0;
  }
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2]);
  function sha256(bytes) {
    const n = bytes.length, total = Math.ceil((n + 9) / 64) * 64;
    const buf = new Uint8Array(total);
    buf.set(bytes);
    buf[n] = 0x80;
    const dv = new DataView(buf.buffer);
    dv.setUint32(total - 8, Math.floor(n / 0x20000000));
    dv.setUint32(total - 4, (n * 8) >>> 0);
    const H = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
      0x5be0cd19]);
    const W = new Uint32Array(64);
    const rotr = (x, r) => (x >>> r) | (x << (32 - r));
    for (let off = 0; off < total; off += 64) {
      for (let t = 0; t < 16; t++) W[t] = dv.getUint32(off + 4 * t);
      for (let t = 16; t < 64; t++) {
        const s0 = rotr(W[t - 15], 7) ^ rotr(W[t - 15], 18) ^ (W[t - 15] >>> 3);
        const s1 = rotr(W[t - 2], 17) ^ rotr(W[t - 2], 19) ^ (W[t - 2] >>> 10);
        W[t] = (W[t - 16] + s0 + W[t - 7] + s1) >>> 0;
      }
      let [a, b, c, d, e, f, g, h] = H;
      for (let t = 0; t < 64; t++) {
        const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + W[t]) >>> 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
        h = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
    }
    return Array.from(H, (x) => x.toString(16).padStart(8, "0")).join("");
  }

  // ---------------------------------------------------------------------------------------------
  // Reading the published files (relative URLs only: this folder and its dataset folder)
  // ---------------------------------------------------------------------------------------------
  const state = { meta: null, manifest: null, manifestError: null, manifestBytes: null, signature: null, read: [] };

  async function fetchBytes(rel) {
    const resp = await fetch(rel, { cache: "no-cache" });
    if (!resp.ok) throw new Error(`${rel}: HTTP ${resp.status}`);
    return new Uint8Array(await resp.arrayBuffer());
  }
  // .json.gz files: gunzip in the browser, unless the host already did (Content-Encoding: gzip)
  async function gunzipJson(bytes) {
    let raw = bytes;
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
      raw = new Uint8Array(await new Response(stream).arrayBuffer());
    }
    return JSON.parse(new TextDecoder().decode(raw));
  }
  async function readIndex(rel) {
    const bytes = await fetchBytes(rel);
    state.read.push({ path: `lookup/${rel}`, bytes: bytes.length, sha256: sha256(bytes) });
    return gunzipJson(bytes);
  }
  const pad = (n, w) => String(n).padStart(w, "0");

  // UTF-8 byte order, as polars sorts (JS compares UTF-16 code units otherwise)
  function cmpStr(a, b) {
    a = a || ""; b = b || "";
    const ia = a[Symbol.iterator](), ib = b[Symbol.iterator]();
    for (;;) {
      const x = ia.next(), y = ib.next();
      if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
      const cx = x.value.codePointAt(0), cy = y.value.codePointAt(0);
      if (cx !== cy) return cx < cy ? -1 : 1;
    }
  }
  const cmpRow = (r, s) => cmpStr(r[0], s[0]) || cmpStr(r[1], s[1]);

  function asKept(r) {
    const c = state.meta.columns.kept, o = {};
    c.forEach((name, i) => { o[name] = r[i]; });
    o.file = state.meta.files[o.file];
    return o;
  }
  function asExcluded(r) {
    const c = state.meta.columns.excluded, o = {};
    c.forEach((name, i) => { o[name] = r[i]; });
    o.file = state.meta.files[o.file];
    const sid = (o.evidence || {}).snapshot_id;
    if (sid) {
      o.snapshot_id = sid;
      const snap = state.meta.snapshots.find((s) => s.snapshot_id === sid);
      o.snapshot = snap ? snap.path : "";
    }
    return o;
  }
  function asRobots(r) {
    const snap = state.meta.snapshots[r[4]] || {};
    return { host: r[0], fetched_at: r[1], http_status: r[2], entry_sha256: r[3], snapshot: snap.path,
      snapshot_id: snap.snapshot_id, as_of: snap.as_of === undefined ? null : snap.as_of };
  }
  function robotsFirst(entries) {
    const out = [], limit = state.meta.robots_limit;
    for (const snap of [...new Set(entries.map((e) => e[4]))].sort((a, b) => a - b)) {
      const mine = entries.filter((e) => e[4] === snap).sort((x, y) => cmpStr(x[0], y[0]) || cmpStr(x[1], y[1]));
      out.push(...mine.slice(0, limit));
    }
    return out;
  }

  // Everything the index knows about a target, in the shape of `consentcrawl lookup --json`
  // (kept/excluded hold at most `sample` rows; kept_total/excluded_total count them all).
  async function lookup(query) {
    const meta = state.meta;
    const target = parseTarget(query);
    state.read = [];
    const bucket = fnv1a32(target.domain) % meta.buckets;
    const doc = await readIndex(`index/b/${pad(bucket, meta.bucket_digits)}.json.gz`);
    const dom = doc.domains[target.domain];
    let kept = [], excluded = [], robots = [], keptTotal = 0, excludedTotal = 0, sameKept = 0, sameExcluded = 0;
    let hostEntry = null;
    const fromHosts = (hosts) => {
      for (const h of Object.keys(hosts).sort(cmpStr)) {
        const e = hosts[h];
        kept.push(...(e.kept || []));
        excluded.push(...(e.excluded || []));
        robots.push(...(e.robots || []));
      }
    };
    if (dom && target.kind === "domain") {
      if (dom.split) {
        [keptTotal, excludedTotal] = dom.n;
        kept = dom.sample.kept; excluded = dom.sample.excluded; robots = dom.robots || [];
      } else {
        fromHosts(dom.hosts);
      }
    } else if (dom) {
      if (dom.split) {
        const part = fnv1a32(target.host) % dom.split.parts;
        hostEntry = (await readIndex(`${dom.split.path}/${pad(part, 4)}.json.gz`)).hosts[target.host] || null;
      } else {
        hostEntry = dom.hosts[target.host] || null;
      }
    }
    if (hostEntry && hostEntry.split) {
      robots = hostEntry.robots || [];
      if (target.kind === "url") {
        const part = fnv1a32(target.url_key) % hostEntry.split.parts;
        const rows = await readIndex(`${hostEntry.split.path}/${pad(part, 4)}.json.gz`);
        kept = rows.kept || []; excluded = rows.excluded || [];
        [sameKept, sameExcluded] = hostEntry.n;
      } else {
        [keptTotal, excludedTotal] = hostEntry.n;
        kept = hostEntry.sample.kept; excluded = hostEntry.sample.excluded;
      }
    } else if (hostEntry) {
      kept = hostEntry.kept || []; excluded = hostEntry.excluded || []; robots = hostEntry.robots || [];
      [sameKept, sameExcluded] = [kept.length, excluded.length];
    }
    if (target.kind === "url") {
      const same = (r) => r[0].includes(target.url_key.slice(target.host.length).replace(/^[:0-9]+/, "")) &&
        urlKey(r[0]) === target.url_key;
      kept = kept.filter(same);
      excluded = excluded.filter(same);
      sameKept -= kept.length;
      sameExcluded -= excluded.length;
    }
    kept.sort(cmpRow);
    excluded.sort(cmpRow);
    if (!keptTotal) keptTotal = kept.length;
    if (!excludedTotal) excludedTotal = excluded.length;
    const verdict = keptTotal && excludedTotal ? "partly-in-dataset" : keptTotal ? "in-dataset"
      : excludedTotal ? "excluded" : "not-in-input";
    return {
      query: target.text, kind: target.kind, host: target.host, domain: target.domain, verdict,
      dataset_version: meta.dataset_version, kept_total: keptTotal, excluded_total: excludedTotal,
      kept: kept.slice(0, meta.sample).map(asKept), excluded: excluded.slice(0, meta.sample).map(asExcluded),
      same_host_kept: target.kind === "url" ? sameKept : 0, same_host_excluded: target.kind === "url" ? sameExcluded : 0,
      robots_entries: robotsFirst(robots).map(asRobots),
      index_files: state.read.slice(),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Plain words (as pipeline/manifest/lookup.py explain_exclusion)
  // ---------------------------------------------------------------------------------------------
  const short = (s, n = 16) => { s = String(s || ""); return s.length > n ? s.slice(0, n) + "…" : s; };
  function disallowedBy(group) {
    return group === "*" ? "disallows all crawlers (its User-agent: * group)"
      : `has a group for the AI agent ${group} that disallows it`;
  }
  function explain(r) {
    const ev = r.evidence || {};
    const reason = r.reason;
    if (reason === "optout:robots" || reason === "revoked:robots") {
      let s = `The site's robots.txt ${disallowedBy(r.group)}`;
      if (r.rule) s += `, by the rule “${r.rule}”`;
      if (r.rule_line) s += ` on line ${r.rule_line}`;
      s += ".";
      if (r.agents && r.agents.length) s += ` AI agents of the policy it disallows: ${r.agents.join(", ")}.`;
      if (ev.basis && ev.basis !== "rules") s += ` (basis: ${ev.basis})`;
      if (ev.revoked_in_version) s += ` Removed after release, in dataset version ${ev.revoked_in_version}.`;
      return s;
    }
    if (reason.startsWith("optout:") && ev.signal) {
      let s = `An AI opt-out signal (${ev.signal}) was found in ${ev.location || "?"}`;
      if (r.rule) s += `: “${r.rule}”`;
      return s + ".";
    }
    if (reason === "revoked:removal-request") {
      return `Removed at the request of the site: removal request line ${ev.request_line} (“${ev.request}”, ` +
        `matched as ${ev.matched_as}), in dataset version ${ev.revoked_in_version}.`;
    }
    const detail = Object.keys(ev).sort().filter((k) => k !== "snapshot_id").map((k) => `${k}=${ev[k]}`).join(", ");
    const words = { "no-text": "the page had no main text to extract" }[reason];
    return `${r.outcome}: ${reason}${words ? ` (${words})` : ""}${detail ? ` [${detail.slice(0, 200)}]` : ""}.`;
  }

  // ---------------------------------------------------------------------------------------------
  // Rendering (DOM nodes and textContent only: nothing from the data is parsed as HTML)
  // ---------------------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  const code = (s) => el("code", {}, String(s));
  const VERDICT = {
    "in-dataset": ["IN THE DATASET", "in"],
    "partly-in-dataset": ["PARTLY IN THE DATASET", "partly"],
    "excluded": ["EXCLUDED", "excluded"],
    "not-in-input": ["NOT IN THE INPUT", "absent"],
  };
  function summary(res) {
    const what = res.kind === "url" ? "this page" : res.kind === "domain" ? `${res.host} (all its hosts)` : res.host;
    const k = res.kept_total, x = res.excluded_total;
    return {
      "in-dataset": `${k} document(s) from ${what} are in the dataset.`,
      "partly-in-dataset": `${k} document(s) from ${what} are in the dataset; ${x} were excluded.`,
      "excluded": `${x} document(s) from ${what} were in the crawl input and are not in the dataset.`,
      "not-in-input": `No document from ${what} was in this dataset's input (${state.meta.inputs} crawl shard(s)).`,
    }[res.verdict];
  }
  function robotsInForce(res, sha) {
    if (!sha) return "no robots.txt entry for this host in the snapshot (the policy's missing-host setting applied)";
    const e = res.robots_entries.find((x) => x.entry_sha256 === sha);
    return e ? `robots.txt of ${e.host} fetched ${e.fetched_at} (HTTP ${e.http_status}), entry ${short(sha)}`
      : `robots.txt entry ${short(sha)}`;
  }
  function render(res) {
    const out = document.getElementById("result");
    out.replaceChildren();
    const [label, cls] = VERDICT[res.verdict];
    const kindWords = { url: "page", host: "host", domain: "domain (all its hosts)" }[res.kind];
    const h = el("h2", { id: "verdict", tabindex: "-1", class: `verdict ${cls}` }, label);
    out.append(h, el("p", { class: "lead" }, summary(res)),
      el("p", { class: "muted" }, `Read as a ${kindWords}: `, code(res.host),
        res.kind !== "domain" ? [" (registrable domain ", code(res.domain), ")"] : null, "."));
    if (res.kind === "url" && (res.same_host_kept || res.same_host_excluded)) {
      out.append(el("p", {}, `Other pages of ${res.host}: ${res.same_host_kept} in the dataset, ` +
        `${res.same_host_excluded} excluded. Look up the host to list them.`));
    }
    if (res.kept.length) {
      out.append(el("h3", {}, `In the dataset (${res.kept_total})`));
      if (res.kept_total > res.kept.length) out.append(el("p", { class: "muted" }, `The first ${res.kept.length}:`));
      out.append(el("ul", { class: "rows" }, res.kept.map((r) => el("li", {},
        el("a", { href: r.url, rel: "noopener noreferrer nofollow" }, r.url),
        el("dl", {},
          el("dt", {}, "crawled"), el("dd", {}, r.crawl_date || "?"),
          el("dt", {}, "language"), el("dd", {}, `${r.lang}_${r.script}`),
          el("dt", {}, "robots.txt in force"), el("dd", {}, robotsInForce(res, r.robots_entry_sha256)),
          el("dt", {}, "where"), el("dd", {}, code(r.file), `, row ${r.row}, id `, code(r.id)))))));
    }
    if (res.excluded.length) {
      out.append(el("h3", {}, `Excluded (${res.excluded_total}), from the exclusion ledger`));
      if (res.excluded_total > res.excluded.length) {
        out.append(el("p", { class: "muted" }, `The first ${res.excluded.length}:`));
      }
      out.append(el("ul", { class: "rows" }, res.excluded.map((r) => el("li", {},
        el("span", { class: "url" }, r.url),
        el("p", { class: "why" }, explain(r)),
        el("dl", {},
          el("dt", {}, "reason"), el("dd", {}, code(r.reason)),
          r.group ? [el("dt", {}, "robots.txt group"), el("dd", {}, r.group === "*" ? "* (all crawlers)" : r.group)] : null,
          r.rule ? [el("dt", {}, "rule"), el("dd", {}, code(r.rule), r.rule_line ? ` (line ${r.rule_line})` : "")] : null,
          r.snapshot_entry_sha256 ? [el("dt", {}, "snapshot entry in force"),
            el("dd", {}, code(short(r.snapshot_entry_sha256, 24)), ` fetched ${r.snapshot_fetched_at}`,
              r.snapshot ? [" in ", code(r.snapshot)] : "")] : null,
          el("dt", {}, "where"), el("dd", {}, code(r.file), `, row ${r.row}, id `, code(r.id)))))));
    }
    if (res.robots_entries.length) {
      out.append(el("h3", {}, "robots.txt entries for this site in the dataset's snapshots"),
        el("ul", { class: "rows" }, res.robots_entries.map((e) => el("li", {},
          `${e.host} fetched ${e.fetched_at}, HTTP ${e.http_status}, entry `, code(short(e.entry_sha256, 24)),
          " in ", code(e.snapshot)))));
    } else if (res.verdict !== "not-in-input") {
      out.append(el("p", {}, "No robots.txt entry for this site in the dataset's snapshots (the policy's " +
        "missing-host setting applied)."));
    }
    out.append(el("h3", {}, "To have pages removed"), el("p", {}, state.meta.removal));
    out.append(el("h3", {}, "Index files read for this answer"),
      el("ul", { class: "compact", id: "index-files" }, res.index_files.map((f) => el("li", {}, code(f.path),
        ` (${f.bytes.toLocaleString("en")} bytes) `, checksumStatus(f)))));
    out.append(el("p", { class: "muted" }, "Check the same answer with the command line: ",
      code(`consentcrawl lookup DIR ${res.query}`)));
    document.body.dataset.state = "done";
    h.focus();
  }
  // Each index file read is checked against its sha256 in manifest.json, as soon as the manifest is loaded
  function checksumStatus(f) {
    const span = el("span", { "data-path": f.path, "data-sha256": f.sha256 });
    fillChecksum(span);
    return span;
  }
  function fillChecksum(span) {
    if (!state.manifest) {
      span.className = "muted";
      span.textContent = "(not checked yet: manifest.json is not loaded)";
      return;
    }
    const entry = state.manifest.files.find((x) => x.path === span.dataset.path);
    const ok = entry && entry.sha256 === span.dataset.sha256;
    span.className = ok ? "ok" : "bad";
    span.textContent = ok ? "sha256 matches manifest.json" : entry ? "sha256 DOES NOT match manifest.json"
      : "not listed in manifest.json";
  }
  function renderError(query, message) {
    const out = document.getElementById("result");
    const h = el("h2", { id: "verdict", tabindex: "-1", class: "verdict error" }, "Cannot read this query");
    out.replaceChildren(h, el("p", {}, code(query), `: ${message}.`),
      el("p", {}, "Type a page URL (https://example.org/some/page), a host (www.example.org) or a registrable " +
        "domain (example.org). Prefixes url:, host: and domain: force a reading."));
    document.body.dataset.state = "error";
    h.focus();
  }
  function renderProvenance() {
    const box = document.getElementById("provenance");
    const m = state.manifest;
    if (!m && state.manifestBytes !== null) { // too large to fetch unasked on every visit
      const mb = (state.manifestBytes / 1e6).toFixed(1);
      const button = el("button", { type: "button", id: "load-manifest" }, `Load manifest.json (${mb} MB)`);
      button.addEventListener("click", () => { button.disabled = true; loadManifest(); });
      box.replaceChildren(el("p", {}, `This dataset's manifest.json lists every file with its sha256 and is ${mb} MB; ` +
        "load it to see the Merkle root and to check the index files this page read."), button);
      return;
    }
    if (!m) {
      box.replaceChildren(el("p", { class: "bad" }, `manifest.json could not be read (${state.manifestError}).`));
      return;
    }
    const sig = state.signature === null ? "checking…" : state.signature
      ? "a detached Ed25519 signature (manifest.json.sig) is published. This page does not check it (it " +
        "does not know the publisher's key): run the command below with the key the publisher gives."
      : "not signed (no manifest.json.sig next to manifest.json).";
    box.replaceChildren(
      el("p", {}, `Dataset version ${m.dataset.version}, Merkle root `, el("code", { id: "merkle-root" }, m.merkle_root),
        ": it commits to every file of the dataset (this page and its index included) and to every count."),
      el("p", { id: "signature" }, "Signature: ", sig),
      el("p", {}, "Verify the whole folder on your own computer:"),
      el("pre", {}, "consentcrawl verify DIR                  # every sha256, row count, the Merkle root\n" +
        "consentcrawl verify DIR --pubkey KEY.pub  # and the signature"),
      el("p", { class: "muted" }, "DIR is a copy of this dataset folder (the one holding manifest.json)."));
  }

  function loadManifest() {
    state.manifestBytes = null;
    return fetch("../manifest.json", { cache: "no-cache" })
      .then((r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.json(); })
      .then((m) => { state.manifest = m; }, (e) => { state.manifestError = e.message; })
      .then(() => {
        renderProvenance();
        document.querySelectorAll("[data-sha256]").forEach(fillChecksum);
      });
  }

  // A lookup never waits for manifest.json: it lists every file, so it grows with the dataset (1.8 MB
  // at 10M rows). It is fetched on load up to MANIFEST_AUTO_BYTES, beyond that on request.
  const MANIFEST_AUTO_BYTES = 4e6;
  async function start() {
    const sigP = fetch("../manifest.json.sig", { cache: "no-cache" })
      .then((r) => { state.signature = r.ok; }, () => { state.signature = false; });
    fetch("../manifest.json", { method: "HEAD", cache: "no-cache" })
      .then((r) => Number(r.headers.get("content-length") || 0), () => 0)
      .then(async (size) => {
        await sigP;
        if (size > MANIFEST_AUTO_BYTES) {
          state.manifestBytes = size;
          renderProvenance();
        } else {
          loadManifest();
        }
      });
    const [meta, psl] = await Promise.all([
      fetch("index/meta.json", { cache: "no-cache" }).then((r) => r.json()),
      fetchBytes("psl.json.gz").then(gunzipJson),
    ]);
    state.meta = meta;
    PSL = buildPsl(psl);
    const pub = meta.publication || {};
    document.getElementById("dataset-name").textContent = pub.name || "this dataset";
    const form = document.getElementById("form");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const q = document.getElementById("q").value;
      document.body.dataset.state = "busy";
      try {
        render(await lookup(q));
      } catch (e) {
        if (e instanceof QueryError) renderError(q, e.message);
        else renderError(q, `the dataset's index could not be read (${e.message})`);
      }
    });
    form.querySelector("button").disabled = false;
    document.body.dataset.ready = "1";
  }

  window.consentcrawl = { parseTarget, urlKey, urlHost, registrableDomain, fnv1a32, sha256, lookup, state,
    ready: null };
  window.consentcrawl.ready = start().catch((e) => {
    document.getElementById("result").textContent = `This page could not load the dataset's index: ${e.message}`;
    document.body.dataset.ready = "failed";
  });
})();
