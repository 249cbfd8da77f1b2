from vectra_pipeline.cli import main

main()
