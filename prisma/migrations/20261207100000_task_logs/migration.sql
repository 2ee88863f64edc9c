-- Provisioning logs (docs/OBSERVABILITY.md#provisioning-logs): the steps' own output, one row per
-- line with a per-task sequence; a task keeps only its newest lines.

-- AlterTable
ALTER TABLE "tasks" ADD COLUMN "last_log_seq" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "task_logs" (
    "task_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "step" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "source" TEXT NOT NULL,
    "line" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "task_logs_pkey" PRIMARY KEY ("task_id","seq")
);

-- AddForeignKey
ALTER TABLE "task_logs" ADD CONSTRAINT "task_logs_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "tasks"("id") ON DELETE CASCADE ON UPDATE CASCADE;
