-- Sandbox hosts (docs/DEPLOYMENT.md): each worker that holds sandboxes registers itself here and
-- heartbeats; placement picks one for every new sandbox, and a sandbox records the host it lives on.

-- CreateTable
CREATE TABLE "sandbox_hosts" (
    "id" TEXT NOT NULL,
    "orchestration_queue" TEXT NOT NULL,
    "task_queue" TEXT NOT NULL,
    "capacity" INTEGER NOT NULL,
    "live_sandboxes" INTEGER NOT NULL DEFAULT 0,
    "heartbeat_seconds" INTEGER NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "stopped_at" TIMESTAMPTZ(3),
    "lost_at" TIMESTAMPTZ(3),

    CONSTRAINT "sandbox_hosts_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "sandbox_hosts_task_queue_key" ON "sandbox_hosts"("task_queue");
CREATE INDEX "sandbox_hosts_orchestration_queue_idx" ON "sandbox_hosts"("orchestration_queue");

-- AlterTable: the host a sandbox lives on (null: made before hosts existed; its host adopts it at start).
ALTER TABLE "sandboxes" ADD COLUMN "host_id" TEXT;
CREATE INDEX "sandboxes_host_id_idx" ON "sandboxes"("host_id");
ALTER TABLE "sandboxes" ADD CONSTRAINT "sandboxes_host_id_fkey" FOREIGN KEY ("host_id") REFERENCES "sandbox_hosts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
