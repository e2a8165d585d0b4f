/**
 * The wall: stock aedes with no authentication, no ACL and no ingest, acknowledging QoS 1
 * publishes that nobody stores. `npm run bench` runs it with the same load as the service, so the
 * service's figure can be read against what the broker alone does on this machine.
 */
import { createServer } from 'node:net'
import { Aedes } from 'aedes'

const port = Number(process.argv[2])
const aedes = await Aedes.createBroker()
const server = createServer(aedes.handle)
server.listen(port, '127.0.0.1', () => console.log(`bare aedes listening on ${port}`))
process.on('SIGTERM', () => {
  server.close()
  aedes.close(() => process.exit(0))
})
