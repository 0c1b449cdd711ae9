export * from './order-state.js';
export * from './payment-command.js';
export * from './stripe-event.mapper.js';
export * from './confirmation.js';
export * from './decide.js';
export * from './shadow.js';
export * from './retry-policy.js';
export * from './inbox.js';
