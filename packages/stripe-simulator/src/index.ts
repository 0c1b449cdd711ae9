export * from './journeys.js';
export * from './webhook-delivery.js';
export * from './simulator.js';
