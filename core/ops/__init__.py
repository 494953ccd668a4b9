"""Operations: backend status and the doctor, the command line."""
