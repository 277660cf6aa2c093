"""Support code of the ubsd DAGs: run-time settings, the Spark task, the output checks.

Kept out of the DAG files so that they stay short and parse fast; nothing here imports
pyspark, torch or ubsd (Airflow runs in its own virtual environment, the jobs in theirs).
"""
