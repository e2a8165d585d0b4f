// What the rest of the system (`kampung up --sim`, src/cli/sim.ts) uses of the simulated fleet.
export { boardDriver } from './board-driver.ts'
export { buildDistrict, type SimVillage } from './district.ts'
export { directDriver, Fleet, type NodeDriver, provisionDistrict } from './fleet.ts'
export { type FaultSpec, validateFaultSpecs } from './models/index.ts'
export { startSerialNodes } from './serial-nodes.ts'
