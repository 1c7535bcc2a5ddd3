// Task ids are made by the page: a UUID (version 4) in the 8-4-4-4-12 lowercase form the hub expects.
// crypto.randomUUID exists only in secure contexts (https, localhost); over plain http on a LAN address the page builds
// the same kind of id from crypto.getRandomValues, which every context has.

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A new random task id, e.g. "3f2b8c1e-6d4a-4b7e-9a15-2c8d0e6f4a91". */
export function newTaskId(cryptoApi = globalThis.crypto) {
  if (cryptoApi && typeof cryptoApi.randomUUID === "function") {
    try {
      return cryptoApi.randomUUID();
    } catch {
      // an insecure context may expose it and still refuse: build one below
    }
  }
  const bytes = new Uint8Array(16);
  if (cryptoApi && typeof cryptoApi.getRandomValues === "function") cryptoApi.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256); // ids only need to be unique per session
  bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
  const h = Array.from(bytes, (b) => HEX[b]);
  return `${h.slice(0, 4).join("")}-${h.slice(4, 6).join("")}-${h.slice(6, 8).join("")}-${h.slice(8, 10).join("")}-${h.slice(10).join("")}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isTaskId(value) {
  return typeof value === "string" && UUID.test(value);
}
