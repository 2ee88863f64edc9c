-- Step progress (docs/ARCHITECTURE.md#step-progress): a step activity writes its latest report
-- (attempt, sub-step, message) straight onto the task row instead of signalling the workflow, so a
-- report costs one UPDATE and no history events. Null until the first report.

-- AlterTable
ALTER TABLE "tasks" ADD COLUMN "step_progress" JSONB;
