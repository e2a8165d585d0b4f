import type { CapabilitySchema } from '../registry/index.ts'

// Where each LoRaWAN device was last heard (src/lorawan): the network server (config name) and its
// topic parts (ChirpStack application id and DevEUI; TTS `<app>@<tenant>` and device id), learned
// from its uplinks and joins, so commands to it go out as that server's downlinks after a restart too.
export const lorawanTables: CapabilitySchema = {
  capability: 'lorawan',
  migrations: [
    `CREATE TABLE lorawan_devices (
     device      TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
     server      TEXT NOT NULL,
     app         TEXT NOT NULL,
     dev         TEXT NOT NULL,
     seen_at_ms  INTEGER NOT NULL
   );`,
  ],
}
