-- Sandbox lifecycle (docs/PRODUCT.md#sandbox-lifecycle): a sandbox sleeps (`stopping` -> `stopped`),
-- wakes (`resuming` -> `ready`), or is found `lost` (its files are gone).
-- AlterEnum
ALTER TYPE "SandboxState" ADD VALUE 'stopping';
ALTER TYPE "SandboxState" ADD VALUE 'stopped';
ALTER TYPE "SandboxState" ADD VALUE 'resuming';
ALTER TYPE "SandboxState" ADD VALUE 'lost';

-- AlterTable: when a turn last started or ended in the sandbox (the idle-stop clock).
ALTER TABLE "sandboxes" ADD COLUMN "last_active_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- AlterTable: the task's active sandbox's state, kept with the task so every task record carries it.
ALTER TABLE "tasks" ADD COLUMN "sandbox_state" "SandboxState";
